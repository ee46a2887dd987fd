//! `leadscore retune --base MODEL.json --db DB --out NEW.json`: refit a model's points and tier
//! thresholds from what the widget computed and what sales reported.
//!
//! The collector's database holds the rule summaries that tier results carry (`data-send-rules`:
//! rule id → times fired and points now) and the outcomes posted to `/v1/outcome` or imported
//! with `leadscore outcomes import`. Each lead's summary from when it first reached its highest
//! tier (sent by the base model's version, and for a converted lead at or before its first
//! conversion) is joined with its outcomes (by lead id, else by visitor id); a lead converted
//! when it has an outcome of the `--converted` kinds. Summaries of other versions are left out:
//! their points are not the base's. The leads are split in time: the older part refits the
//! points ([`leadscore::learn::feedback`]), the newest `--holdout` share compares the base and
//! the new model (ROC AUC, log loss, conversion per tier), and the new model version is written
//! with the evidence of each rule.

use crate::serve::outcome::OutcomeKind;
use crate::serve::store::{OutcomeRow, Store, SummaryRow};
use leadscore::learn::feedback::{retune_from_summaries, Judgement, SummaryLead};
use leadscore::learn::scorecard::TrainOptions;
use leadscore::learn::tiers::Target;
use leadscore::model::ValidModel;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The model to retune (JSON): its rules stay, their points and the tier thresholds move.
    #[arg(long)]
    base: PathBuf,
    /// The collector's database: a SQLite file or a postgres:// URL, as `serve --db`.
    #[arg(long)]
    db: String,
    /// Where the new model is written (JSON).
    #[arg(long, short)]
    out: PathBuf,
    /// Outcomes that count as a conversion (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = ["opportunity".to_string(), "won".to_string()])]
    converted: Vec<String>,
    /// Share of the newest leads held out to compare the base and the new model.
    #[arg(long, default_value_t = 0.2)]
    holdout: f64,
    /// SQL tier: the lowest threshold whose leads convert at least this often (default: the
    /// tier keeps its share of leads).
    #[arg(long)]
    sql_precision: Option<f64>,
    /// MQL tier: the threshold that puts this share of leads in MQL or higher (default: the
    /// tier keeps its share of leads).
    #[arg(long)]
    mql_share: Option<f64>,
    /// Points that double the odds of converting.
    #[arg(long, default_value_t = 20.0)]
    pdo: f64,
    /// Seed of the cross-validation folds.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Version of the new model [default: the base's version with `-retuned`].
    #[arg(long)]
    model_version: Option<String>,
}

pub fn run(args: Args) -> Result<ExitCode, String> {
    let base = crate::check::load_model(&args.base)?;
    for kind in &args.converted {
        if OutcomeKind::from_name(kind).is_none() {
            let names: Vec<&str> = OutcomeKind::ALL.iter().map(|k| k.name()).collect();
            return Err(format!(
                "--converted {kind:?}: not an outcome (one of {})",
                names.join(", ")
            ));
        }
    }
    let model_id = base.model().id.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (summaries, outcomes) = runtime.block_on(async {
        let store = Store::open_existing(&args.db).await?;
        let summaries = store.rule_summaries(model_id.clone()).await;
        let outcomes = store.truth_rows().await.map(|t| t.outcomes);
        store.close().await;
        Ok::<_, String>((summaries?, outcomes?))
    })?;
    let converted: BTreeSet<&str> = args.converted.iter().map(String::as_str).collect();
    let version = base.model().model_version.clone();
    let tiers: Vec<String> = base.model().tiers.iter().map(|t| t.name.clone()).collect();
    let joined = join(&summaries, &outcomes, &converted, &version, &tiers);
    if joined.other_versions > 0 {
        eprintln!(
            "note: {} summaries were sent by other versions of {model_id} and are left out (their points are not those of {version})",
            joined.other_versions
        );
    }
    if joined.only_after > 0 {
        eprintln!(
            "note: {} converted leads sent summaries only after converting and are left out",
            joined.only_after
        );
    }
    if joined.unreadable > 0 {
        eprintln!(
            "note: {} stored summaries could not be read and were skipped",
            joined.unreadable
        );
    }
    let leads = joined.leads;
    if leads.is_empty() {
        return Err(format!(
            "the database holds no rule summaries of model {model_id:?} version {version:?} (sites send them with data-send-rules, for identified leads with consent)"
        ));
    }
    let options = TrainOptions {
        pdo: args.pdo,
        seed: args.seed,
        sql: args.sql_precision.map(Target::Precision),
        mql: args.mql_share.map(Target::Share),
        id: model_id.clone(),
        model_version: args
            .model_version
            .clone()
            .unwrap_or_else(|| format!("{}-retuned", base.model().model_version)),
        ..TrainOptions::default()
    };
    let retuned =
        retune_from_summaries(&base, &leads, args.holdout, &options).map_err(|e| e.to_string())?;
    let mut model = retuned.trained.model.clone();
    // The base's training section describes a history file this model was not fitted on.
    model.training = None;
    ValidModel::new(model.clone()).map_err(|e| format!("the retuned model is invalid: {e}"))?;
    let text = serde_json::to_string_pretty(&model).map_err(|e| e.to_string())?;
    std::fs::write(&args.out, text + "\n")
        .map_err(|e| format!("cannot write {}: {e}", args.out.display()))?;

    let report = &retuned.trained.report;
    println!(
        "{} leads of model {model_id} with a rule summary; {} converted ({})",
        leads.len(),
        leads.iter().filter(|l| l.converted).count(),
        args.converted.join(" or ")
    );
    println!(
        "refitted on the {} oldest (summaries up to {}), compared on the {} newest",
        retuned.train_leads, retuned.split_at, retuned.before.leads
    );
    println!();
    print_comparison(
        &base.model().model_version,
        &model.model_version,
        &retuned.before,
        &retuned.after,
    );
    println!();
    println!("rule                            points before → after   leads  conversion");
    for (old, new) in base.rules().iter().zip(&model.rules) {
        let evidence = new.evidence.as_ref();
        println!(
            "{:<32}{:>6} → {:<6}{:>12}  {:>9}",
            new.id,
            old.points,
            new.points,
            evidence.map_or(0, |e| e.leads),
            evidence.map_or("-".into(), |e| format!(
                "{:.1} %",
                100.0 * e.conversion_rate
            )),
        );
    }
    println!(
        "wrote {} (version {})",
        args.out.display(),
        model.model_version
    );
    for w in &report.warnings {
        eprintln!("warning: {w}");
    }
    if let (Some(before), Some(after)) = (retuned.before.auc, retuned.after.auc) {
        if after < before {
            eprintln!(
                "warning: the retuned model ranks the newest leads worse than the base (ROC AUC {after:.4} < {before:.4}); keep the base unless the holdout is too small to tell"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// What the join kept and left out.
struct Joined {
    leads: Vec<SummaryLead>,
    /// Summaries whose JSON could not be read.
    unreadable: usize,
    /// Summaries sent by other versions of the model (their points are not the base's).
    other_versions: usize,
    /// Converted leads whose every summary was sent after the conversion.
    only_after: usize,
}

/// For each lead, the summary `version` sent when the lead first reached its highest tier — the
/// moment marketing handed it to sales, which is what its outcome followed — with whether the
/// lead converted. Only summaries sent at or before a converted lead's first conversion count,
/// so that what happened afterwards is not learned as its cause; and every lead is taken at the
/// same point of its journey, whether it converted or not (its latest summary would be later,
/// and more decayed, for leads that never converted). `tiers` lists the model's tiers from the
/// highest.
fn join(
    summaries: &[SummaryRow],
    outcomes: &[OutcomeRow],
    converted: &BTreeSet<&str>,
    version: &str,
    tiers: &[String],
) -> Joined {
    // The first conversion of each lead id and of each visitor id.
    let mut first: HashMap<(bool, &str), &str> = HashMap::new();
    for (lead, visitor, outcome, at) in outcomes {
        if !converted.contains(outcome.as_str()) {
            continue;
        }
        let at = at.as_deref().unwrap_or("");
        for key in [
            lead.as_deref().map(|l| (true, l)),
            visitor.as_deref().map(|v| (false, v)),
        ]
        .into_iter()
        .flatten()
        {
            let entry = first.entry(key).or_insert(at);
            if at < *entry {
                *entry = at;
            }
        }
    }
    let rank = |tier: &str| tiers.iter().position(|t| t == tier).unwrap_or(tiers.len());
    let mut joined = Joined {
        leads: Vec::new(),
        unreadable: 0,
        other_versions: 0,
        only_after: 0,
    };
    // Per lead: its conversion time, if any, and the chosen summary (tier rank, time, rules).
    type Kept<'a> = (Option<&'a str>, Option<(usize, &'a str, &'a str)>);
    let mut chosen: BTreeMap<(bool, &str), Kept<'_>> = BTreeMap::new();
    for (visitor, lead, model_version, tier, at, rules) in summaries {
        if model_version != version {
            joined.other_versions += 1;
            continue;
        }
        let key = match lead {
            Some(l) => (true, l.as_str()),
            None => (false, visitor.as_str()),
        };
        let conversion = first
            .get(&key)
            .or_else(|| first.get(&(false, visitor.as_str())))
            .copied();
        let entry = chosen.entry(key).or_insert((conversion, None));
        if entry.0.is_none() {
            entry.0 = conversion;
        }
        if entry.0.is_some_and(|c| !c.is_empty() && at.as_str() > c) {
            continue;
        }
        let candidate = (rank(tier), at.as_str(), rules.as_str());
        if entry
            .1
            .is_none_or(|(r, seen, _)| (candidate.0, candidate.1) < (r, seen))
        {
            entry.1 = Some(candidate);
        }
    }
    for (conversion, kept) in chosen.into_values() {
        let Some((_, at, rules)) = kept else {
            joined.only_after += 1;
            continue;
        };
        let Ok(rules) = serde_json::from_str::<BTreeMap<String, (u32, i64)>>(rules) else {
            joined.unreadable += 1;
            continue;
        };
        joined.leads.push(SummaryLead {
            at: at.to_string(),
            rules,
            converted: conversion.is_some(),
        });
    }
    joined
}

fn print_comparison(before_name: &str, after_name: &str, before: &Judgement, after: &Judgement) {
    let rate = |leads: usize, converted: usize| {
        if leads == 0 {
            "-".to_string()
        } else {
            format!(
                "{converted}/{leads} = {:.1} %",
                100.0 * converted as f64 / leads as f64
            )
        }
    };
    let number = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.4}"));
    println!(
        "on the {} newest leads ({} converted)   {:<24} {:<24}",
        before.leads,
        before.converted,
        format!("base {before_name}"),
        format!("retuned {after_name}")
    );
    println!(
        "  ROC AUC                               {:<24} {:<24}",
        number(before.auc),
        number(after.auc)
    );
    println!(
        "  log loss                              {:<24} {:<24}",
        number(before.log_loss),
        number(after.log_loss)
    );
    for (b, a) in before.tiers.iter().zip(&after.tiers) {
        println!(
            "  {:<36}  {:<24} {:<24}",
            format!("conversion in {}", b.tier),
            rate(b.leads, b.converted),
            rate(a.leads, a.converted)
        );
    }
}
