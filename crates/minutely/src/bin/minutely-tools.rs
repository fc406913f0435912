//! `minutely-tools`: sample data, load and soak runs (crates/tools), apart from the product
//! binary. It is declared here, beside `minutely`, so that the tests that drive `minutely serve`
//! with a tool have both executables.

fn main() -> std::process::ExitCode {
    minutely_tools::main()
}
