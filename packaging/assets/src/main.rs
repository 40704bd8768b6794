//! Builds what the packages ship beside the binaries: man pages and shell
//! completions, generated from the very clap definitions the binaries parse
//! with (the two `cli.rs` files are compiled in here as modules), so a page
//! cannot describe an option the program does not have.
//!
//! Usage: zkd-package-assets OUT_DIR [--date YYYY-MM-DD]
//! writes OUT_DIR/man/*.1 and OUT_DIR/completions/{bash,zsh,fish}/*.

#[path = "../../../zkctl/src/cli.rs"]
#[allow(dead_code)]
mod zkctl_cli;
#[path = "../../../zkd/src/cli.rs"]
#[allow(dead_code)]
mod zkd_cli;

mod man_extra;

use clap::CommandFactory;
use clap_complete::Shell;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

fn main() -> ExitCode {
    match parse_args(std::env::args().skip(1)).and_then(|args| generate(&args)) {
        Ok(written) => {
            for path in written {
                println!("{}", path.display());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("zkd-package-assets: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Args {
    out_dir: PathBuf,
    date: String,
}

fn parse_args(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let usage = "usage: zkd-package-assets OUT_DIR [--date YYYY-MM-DD]";
    let mut out_dir = None;
    let mut date = String::new();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--date" => date = args.next().ok_or(usage)?,
            _ if arg.starts_with('-') => return Err(format!("unknown option {arg}; {usage}")),
            _ if out_dir.is_none() => out_dir = Some(PathBuf::from(arg)),
            _ => return Err(format!("unexpected argument {arg}; {usage}")),
        }
    }
    if !date.is_empty() && !is_iso_date(&date) {
        return Err(format!("--date {date}: not YYYY-MM-DD"));
    }
    Ok(Args {
        out_dir: out_dir.ok_or(usage)?,
        date,
    })
}

fn is_iso_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

fn generate(args: &Args) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    let man_dir = args.out_dir.join("man");
    create_dir(&man_dir)?;
    for (cmd, extra) in [
        (zkd_cli::Cli::command(), man_extra::ZKD),
        (zkctl_cli::Cli::command(), man_extra::ZKCTL),
    ] {
        write_man_pages(cmd, extra, &args.date, &man_dir, &mut written)?;
    }
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let dir = args.out_dir.join("completions").join(shell.to_string());
        create_dir(&dir)?;
        for mut cmd in [zkd_cli::Cli::command(), zkctl_cli::Cli::command()] {
            let name = cmd.get_name().to_owned();
            let path = clap_complete::generate_to(shell, &mut cmd, &name, &dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            written.push(path);
        }
    }
    Ok(written)
}

/// One page for the program and one per visible subcommand (zkctl-deploy(1)
/// and so on, as git and systemd do), each ending with the hand-written
/// sections clap knows nothing about: files, signals, exit status, see also.
fn write_man_pages(
    cmd: clap::Command,
    extra: man_extra::Pages,
    date: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> Result<(), String> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let program = cmd.get_name().to_owned();
    let mut pages = vec![(cmd.clone(), extra.program)];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages.push((sub.clone(), extra.subcommand));
    }
    for (page, sections) in pages {
        let man = clap_mangen::Man::new(page)
            .date(date)
            .source(format!("{program} {}", env!("CARGO_PKG_VERSION")))
            .manual("zkd manual");
        let path = dir.join(man.get_filename());
        let mut out = Vec::new();
        man.render(&mut out)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        out.write_all(sections.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        fs::write(&path, out).map_err(|e| format!("{}: {e}", path.display()))?;
        written.push(path);
    }
    Ok(())
}

fn create_dir(dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("{}: cannot create: {e}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_page_per_subcommand_and_every_completion() {
        let out = std::env::temp_dir().join(format!("zkd-assets-{}", std::process::id()));
        let args = Args {
            out_dir: out.clone(),
            date: "2026-11-22".into(),
        };
        let written = generate(&args).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for want in [
            "zkd.1",
            "zkd-purge.1",
            "zkctl.1",
            "zkctl-deploy.1",
            "zkctl-status.1",
            "zkd.bash",
            "_zkctl",
            "zkctl.fish",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} missing: {names:?}");
        }
        let zkd_page = fs::read_to_string(out.join("man/zkd.1")).unwrap();
        assert!(zkd_page.contains("\\-\\-config"), "{zkd_page}");
        assert!(zkd_page.contains(".SH FILES"), "{zkd_page}");
        assert!(zkd_page.contains("2026\\-11\\-22") || zkd_page.contains("2026-11-22"));
        let deploy = fs::read_to_string(out.join("man/zkctl-deploy.1")).unwrap();
        assert!(deploy.contains("\\-\\-wait"), "{deploy}");
        let bash = fs::read_to_string(out.join("completions/bash/zkctl.bash")).unwrap();
        assert!(bash.contains("playground"), "{bash}");
        fs::remove_dir_all(out).unwrap();
    }

    #[test]
    fn refuses_bad_arguments() {
        let args = |v: &[&str]| parse_args(v.iter().map(|s| s.to_string()));
        assert!(args(&[]).is_err());
        assert!(args(&["out", "--date", "22.11.2026"])
            .err()
            .unwrap()
            .contains("YYYY-MM-DD"));
        assert!(args(&["out", "--frobnicate"]).is_err());
        assert!(args(&["out", "more"]).is_err());
        assert_eq!(args(&["out"]).unwrap().out_dir, PathBuf::from("out"));
    }
}
