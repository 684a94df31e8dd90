//! What the walk says each object of this process is: the test binary embeds gothook (SELF),
//! the dynamic loader, the vDSO and libc are told apart by the auxiliary vector.

use gothook_core::loader::{self, LibKind};

#[test]
fn walk_names_the_loader_the_vdso_and_self_once_each_and_the_rest_other() {
    let mut seen = Vec::new();
    loader::each(loader::LIBS_ALL, |lib| {
        seen.push((String::from_utf8_lossy(lib.name).into_owned(), lib.kind));
        true
    })
    .unwrap();
    let of = |k: LibKind| -> Vec<&str> {
        seen.iter()
            .filter(|(_, kind)| *kind == k)
            .map(|(n, _)| n.as_str())
            .collect()
    };
    let loader_objs = of(LibKind::Loader);
    assert_eq!(loader_objs.len(), 1, "{seen:?}");
    assert!(loader_objs[0].contains("ld-linux"), "{seen:?}");
    assert_eq!(of(LibKind::Vdso).len(), 1, "{seen:?}");
    assert_eq!(
        of(LibKind::SelfLib),
        vec![""],
        "the main program embeds gothook: {seen:?}"
    );
    assert!(
        of(LibKind::Main).is_empty(),
        "SELF wins over MAIN: {seen:?}"
    );
    let others = of(LibKind::Other);
    assert!(others.iter().any(|n| n.ends_with("/libc.so.6")), "{seen:?}");
    assert_eq!(others.len() + 3, seen.len());
}
