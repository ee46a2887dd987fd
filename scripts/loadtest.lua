-- wrk script for scripts/loadtest.sh: POSTs tier results, each with its own event_id, for
-- POST_SECONDS, then goes quiet until wrk stops, so that no request is in flight at the end and
-- every stored row has its counted 200.
local ffi = require("ffi")
ffi.cdef [[
  typedef struct { long tv_sec; long tv_usec; } leadscore_timeval;
  int gettimeofday(leadscore_timeval *tv, void *tz);
]]
local function now()
  local tv = ffi.new("leadscore_timeval")
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) + tonumber(tv.tv_usec) / 1e6
end

local post_seconds = tonumber(os.getenv("POST_SECONDS") or "10")
local run_id = os.getenv("RUN_ID") or tostring(os.time())
local threads = {}
local next_thread = 0

function setup(thread)
  next_thread = next_thread + 1
  thread:set("thread_no", next_thread)
  table.insert(threads, thread)
end

local counter, accepted, duplicates, failed = 0, 0, 0, 0
local started, last_answer, stop_at
local prefix, at
local headers = { ["Content-Type"] = "application/json" }
local tiers = { { "unqualified", "MQL" }, { "MQL", "SQL" }, { "unqualified", "PQL" }, { "SQL", "MQL" } }

function init(args)
  prefix = run_id .. "-" .. tostring(thread_no) .. "-"
  at = os.date("!%Y-%m-%dT%H:%M:%S.000Z")
  started = now()
  stop_at = started + post_seconds
end

function delay()
  -- After the posting phase, wait longer than the run: nothing more is sent.
  if now() >= stop_at then return 3600000 end
  return 0
end

function request()
  counter = counter + 1
  local pair = tiers[counter % #tiers + 1]
  local body = string.format(
    '{"schema":1,"tier":"%s","previous_tier":"%s","model_id":"acme-saas","model_version":"2026-11-01",' ..
    '"visitor_id":"load-%s%d","event_id":"%s%d","at":"%s"}',
    pair[2], pair[1], prefix, counter % 5000, prefix, counter, at)
  return wrk.format("POST", "/v1/tier", headers, body)
end

function response(status, headers, body)
  last_answer = now()
  if status == 200 and body:find('"stored"', 1, true) then
    accepted = accepted + 1
  elseif status == 200 then
    duplicates = duplicates + 1
  else
    failed = failed + 1
  end
  wrk.thread:set("accepted", accepted)
  wrk.thread:set("duplicates", duplicates)
  wrk.thread:set("failed", failed)
  wrk.thread:set("started", started)
  wrk.thread:set("last_answer", last_answer)
end

function done(summary, latency, requests)
  local total_accepted, total_duplicates, total_failed = 0, 0, 0
  local first, last = nil, nil
  for _, thread in ipairs(threads) do
    total_accepted = total_accepted + (thread:get("accepted") or 0)
    total_duplicates = total_duplicates + (thread:get("duplicates") or 0)
    total_failed = total_failed + (thread:get("failed") or 0)
    local s, l = thread:get("started"), thread:get("last_answer")
    if s and (not first or s < first) then first = s end
    if l and (not last or l > last) then last = l end
  end
  local seconds = (first and last) and (last - first) or 0
  local errors = summary.errors
  io.write(string.format("accepted=%d duplicates=%d failed=%d seconds=%.3f rate=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f socket_errors=%d\n",
    total_accepted, total_duplicates, total_failed, seconds, seconds > 0 and total_accepted / seconds or 0,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    errors.connect + errors.read + errors.write + errors.timeout))
end
