//! The rendition spec parser (CLI `--spec`, presets, the Lambda's RENDITIONS): any text
//! parses or is refused, and what parses prints back to a spec that parses to the same thing.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(specs) = imgcore::OutputSpec::parse_list(text) {
        for s in &specs {
            let printed = s.to_spec_string();
            let again = imgcore::OutputSpec::parse_list(&printed)
                .unwrap_or_else(|e| panic!("{printed:?} (from {text:?}) does not parse: {e}"));
            assert_eq!(again.len(), 1, "{printed:?}");
            assert_eq!(&again[0], s, "{printed:?} (from {text:?})");
        }
    }
});
