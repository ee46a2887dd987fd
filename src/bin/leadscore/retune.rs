//! `leadscore retune --base MODEL.json --db DB --out NEW.json`: refit a model's points and tier
//! thresholds from what the widget computed and what sales reported.
//!
//! The collector's database holds the rule summaries that tier results carry (`data-send-rules`:
//! rule id → times fired and points now) and the outcomes posted to `/v1/outcome` or imported
//! with `leadscore outcomes import`. Each lead's latest summary of the base model (any version)
//! is joined with its outcomes (by lead id, else by visitor id); a lead converted when it has an
//! outcome of the `--converted` kinds. The leads are split in time: the older part refits the
//! points ([`leadscore::learn::feedback`]), the newest `--holdout` share compares the base and
//! the new model (ROC AUC, log loss, conversion per tier), and the new model version is written
//! with the evidence of each rule.

use crate::serve::store::{OutcomeRow, Store, SummaryRow};
use leadscore::learn::feedback::{retune_from_summaries, Judgement, SummaryLead};
use leadscore::learn::scorecard::TrainOptions;
use leadscore::learn::tiers::Target;
use leadscore::model::ValidModel;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;

/// Outcome kinds `--converted` may name.
const KINDS: [&str; 5] = ["accepted", "opportunity", "won", "lost", "disqualified"];

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
        if !KINDS.contains(&kind.as_str()) {
            return Err(format!(
                "--converted {kind:?}: not an outcome (one of {})",
                KINDS.join(", ")
            ));
        }
    }
    let model_id = base.model().id.clone();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let (summaries, outcomes) = runtime.block_on(async {
        let store = Store::open(&args.db, false, 1).await?;
        let summaries = store.rule_summaries(model_id.clone()).await;
        let outcomes = store.truth_rows().await.map(|t| t.outcomes);
        store.close().await;
        Ok::<_, String>((summaries?, outcomes?))
    })?;
    let converted: BTreeSet<&str> = args.converted.iter().map(String::as_str).collect();
    let (leads, skipped) = join(&summaries, &outcomes, &converted);
    if leads.is_empty() {
        return Err(format!(
            "the database holds no rule summaries of model {model_id:?} (sites send them with data-send-rules, for identified leads with consent)"
        ));
    }
    if skipped > 0 {
        eprintln!("note: {skipped} stored summaries could not be read and were skipped");
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

/// Each lead's latest summary, with whether it converted; and how many summaries were unreadable.
fn join(
    summaries: &[SummaryRow],
    outcomes: &[OutcomeRow],
    converted: &BTreeSet<&str>,
) -> (Vec<SummaryLead>, usize) {
    let mut by_lead: HashMap<bool, BTreeSet<&str>> = HashMap::new();
    for (lead, visitor, outcome, _) in outcomes {
        if !converted.contains(outcome.as_str()) {
            continue;
        }
        if let Some(l) = lead {
            by_lead.entry(true).or_default().insert(l);
        }
        if let Some(v) = visitor {
            by_lead.entry(false).or_default().insert(v);
        }
    }
    let won_lead = by_lead.remove(&true).unwrap_or_default();
    let won_visitor = by_lead.remove(&false).unwrap_or_default();
    let mut latest: BTreeMap<(bool, &str), (&str, &str, &str)> = BTreeMap::new();
    for (visitor, lead, at, rules) in summaries {
        let key = match lead {
            Some(l) => (true, l.as_str()),
            None => (false, visitor.as_str()),
        };
        let entry = latest.entry(key).or_insert((at, rules, visitor));
        if at.as_str() > entry.0 {
            *entry = (at, rules, visitor);
        }
    }
    let mut skipped = 0;
    let mut leads = Vec::new();
    for ((is_lead, key), (at, rules, visitor)) in latest {
        let Ok(rules) = serde_json::from_str::<BTreeMap<String, (u32, i64)>>(rules) else {
            skipped += 1;
            continue;
        };
        let converted = (is_lead && won_lead.contains(key)) || won_visitor.contains(visitor);
        leads.push(SummaryLead {
            at: at.to_string(),
            rules,
            converted,
        });
    }
    (leads, skipped)
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
