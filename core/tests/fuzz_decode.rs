//! A bounded, deterministic mutation fuzzer over the decoder's byte-slice reader: seeds are the
//! bounds-test images (always) and the cross fixtures the C suite builds (when present); each
//! execution mutates a seed a few bytes at a time, mostly inside its dynamic array and tables,
//! and runs the shared fuzz harness, which panics when the decoder hands back anything outside
//! the input.  `GOTHOOK_FUZZ_EXECS` sets the number of executions (default 5,000).

#[path = "../fuzz/harness.rs"]
mod harness;
mod image;

use std::path::Path;

/// xorshift64*: a fixed sequence, so a failure reproduces.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn seeds() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for spec in image::specs() {
        let img = image::build(spec);
        let elf = img.bytes.clone();
        if let Some(s) = harness::seed_from_elf(&elf, 1 << 16) {
            out.push((format!("{spec:?}"), s));
        }
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../build/tests-c/cross/fixtures");
    if let Ok(entries) = std::fs::read_dir(dir) {
        let mut paths: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        paths.sort();
        for p in paths
            .iter()
            .filter(|p| p.extension().is_some_and(|e| e == "so"))
        {
            let bytes = std::fs::read(p).unwrap();
            if let Some(s) = harness::seed_from_elf(&bytes, 1 << 16) {
                out.push((p.file_name().unwrap().to_string_lossy().into_owned(), s));
            }
        }
    }
    out
}

/// Values that sit on the edges of sizes and counts.
const INTERESTING: [u64; 10] = [
    0,
    1,
    2,
    4,
    8,
    0x7f,
    0xff,
    0xffff_ffff,
    u64::MAX,
    0x8000_0000,
];

fn mutate(rng: &mut Rng, input: &mut [u8]) {
    let dyn_at = harness::HEADER
        + u64::from_le_bytes(input[42..50].try_into().unwrap()).min(input.len() as u64) as usize;
    for _ in 0..1 + rng.below(4) {
        // Half the mutations hit the dynamic array (tags, pointers, sizes), the rest anywhere.
        let at = if rng.below(2) == 0 && dyn_at < input.len() {
            dyn_at + rng.below((input.len() - dyn_at).min(512))
        } else {
            rng.below(input.len())
        };
        match rng.below(4) {
            0 => input[at] ^= 1 << rng.below(8),
            1 => input[at] = rng.next() as u8,
            2 => {
                let v = INTERESTING[rng.below(INTERESTING.len())].to_le_bytes();
                let n = [1, 2, 4, 8][rng.below(4)].min(input.len() - at);
                input[at..at + n].copy_from_slice(&v[..n]);
            }
            _ => {
                // Nudge a little-endian word by a small amount: sizes one entry off.
                let n = 4.min(input.len() - at);
                let mut w = [0u8; 4];
                w[..n].copy_from_slice(&input[at..at + n]);
                let delta = [1u32, 4, 8, 12, 16, 24][rng.below(6)];
                let v = if rng.below(2) == 0 {
                    u32::from_le_bytes(w).wrapping_add(delta)
                } else {
                    u32::from_le_bytes(w).wrapping_sub(delta)
                };
                input[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
            }
        }
    }
}

#[test]
fn mutated_images_never_make_the_decoder_hand_back_memory_outside_them() {
    let seeds = seeds();
    assert!(seeds.len() >= 38, "the bounds images are always seeds");
    for (name, s) in &seeds {
        assert!(harness::run(s).decoded, "seed {name} decodes unmutated");
    }
    let execs: usize = std::env::var("GOTHOOK_FUZZ_EXECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut decoded, mut symbols, mut imports, mut found) = (0usize, 0u64, 0u64, 0u64);
    let start = std::time::Instant::now();
    for i in 0..execs {
        let (name, seed) = &seeds[rng.below(seeds.len())];
        let mut input = seed.clone();
        mutate(&mut rng, &mut input);
        let out = std::panic::catch_unwind(|| harness::run(&input)).unwrap_or_else(|_| {
            let path = std::env::temp_dir().join(format!("gothook-fuzz-{i}.bin"));
            std::fs::write(&path, &input).unwrap();
            panic!("execution {i} (seed {name}) broke an invariant; input saved to {path:?}");
        });
        decoded += out.decoded as usize;
        symbols += out.symbols as u64;
        imports += out.imports as u64;
        found += out.found as u64;
    }
    eprintln!(
        "{execs} executions over {} seeds in {:.1?}: {decoded} decoded, {symbols} symbols, \
         {imports} imports, {found} lookups found",
        seeds.len(),
        start.elapsed()
    );
    assert!(
        decoded > execs / 10,
        "mutations should mostly keep images decodable"
    );
}
