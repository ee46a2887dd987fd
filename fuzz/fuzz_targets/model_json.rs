//! The model reader, validator and compiler: any text either is refused with errors, or
//! compiles to bytes that read back as the same model (less what the engine never reads) and
//! compile again to the same bytes.
#![no_main]

use leadscore::model::{binary, Model, ValidModel};
use libfuzzer_sys::fuzz_target;

/// The model without what compiling leaves out.
fn compiled_part(m: &Model) -> Model {
    let mut m = m.clone();
    m.schema = None;
    m.description = None;
    m.training = None;
    for r in &mut m.rules {
        r.description = None;
        r.evidence = None;
    }
    m
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(model) = ValidModel::from_json(text) else {
        return;
    };
    let _ = leadscore::model::warnings(model.model());
    // The validator refuses what the compiled form cannot hold: a valid model compiles.
    let bytes = binary::write(&model).expect("a valid model compiles");
    let back = binary::read(&bytes).expect("a compiled model reads back");
    assert_eq!(
        back.model(),
        &compiled_part(model.model()),
        "the compiled model is the model"
    );
    assert_eq!(
        binary::write(&back).ok(),
        Some(bytes),
        "compiling again gives the same bytes"
    );
    assert_eq!(back.rule_key(), model.rule_key());
});
