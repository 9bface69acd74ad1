#[test]
fn one() {
    let data = std::fs::read(std::env::var("INPUT").unwrap()).unwrap();
    fuzzing::jit(&data);
}
