//! Writing values into generated shell scripts, batch files and crontab lines: one function
//! per target language and place (a word of a command, a comment), used for every value a
//! launcher or an export writes, so a project's version, a path or a schedule can never end a
//! line or a quote and run as a command.
//!
//! - POSIX sh: a word is single-quoted (a `'` inside becomes `'\''`), which leaves every
//!   character literal, newlines included. A comment ends at a newline, so control characters
//!   in a comment are replaced.
//! - cmd.exe (.bat files and the `schtasks` lines typed into cmd): `%` is expanded even inside
//!   double quotes and in `rem` lines, `call` expands it a second time and doubles `^`, and a
//!   `"` cannot be escaped inside a quoted word. A word is double-quoted and must hold none of
//!   `" % ^ !` nor a control character: such a value is refused with what to do, never
//!   half-escaped. In a comment those characters (and `& | < >`) are replaced.
//! - crontab: a line ends at a newline, and `%` in the command ends the command (the rest is
//!   its standard input) unless written `\%`. Values with control characters are refused.

/// What replaces a character a comment cannot hold.
const REPLACEMENT: char = '?';

/// A word for a POSIX shell: unchanged when it has only characters no shell treats specially,
/// else single-quoted.
pub fn sh_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@".contains(c))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// A word for cmd.exe: unchanged when plain (letters, digits and `_ - . = : / \`), else as
/// [`bat_word`] quotes it.
pub fn bat_arg(s: &str, what: &str) -> Result<String, String> {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.=:/\\".contains(c))
    {
        Ok(s.to_string())
    } else {
        bat_word(s, what)
    }
}

/// Text for a `#` comment of a shell script or a crontab: one line whatever the value holds.
pub fn sh_comment(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { REPLACEMENT } else { c })
        .collect()
}

/// Text for a `rem` comment of a batch file.
pub fn bat_comment(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() || "%^&|<>\"!".contains(c) {
                REPLACEMENT
            } else {
                c
            }
        })
        .collect()
}

/// A double-quoted word for cmd.exe (a batch file's command, or a line typed into cmd), or
/// why the value cannot be written safely. `what` names the value in the message.
pub fn bat_word(s: &str, what: &str) -> Result<String, String> {
    if let Some(c) = s.chars().find(|c| c.is_control() || "\"%^!".contains(*c)) {
        return Err(format!(
            "{what} '{}' holds {}, which cannot be written safely into a Windows command: \
             use a path or value without \" % ^ ! or control characters",
            sh_comment(s),
            describe(c)
        ));
    }
    Ok(format!("\"{s}\""))
}

/// A value written where cmd.exe does not see it quoted: inside `schtasks /TR "\"...\""`
/// (cmd does not read `\"` as an escaped quote, so the inner part is outside its quotes).
/// Only characters with no meaning to cmd are allowed.
pub fn bat_bare(s: &str, what: &str) -> Result<String, String> {
    if let Some(c) = s
        .chars()
        .find(|c| c.is_control() || "\"%^!&|<>()".contains(*c))
    {
        return Err(format!(
            "{what} '{}' holds {}, which cannot be written into a Task Scheduler command: \
             use a path without \" % ^ ! & | < > ( ) or control characters",
            sh_comment(s),
            describe(c)
        ));
    }
    Ok(s.to_string())
}

/// A shell word for the command of a crontab line: quoted for sh, with `%` escaped for cron;
/// or why the value cannot be on one crontab line.
pub fn cron_word(s: &str, what: &str) -> Result<String, String> {
    if let Some(c) = s.chars().find(|c| c.is_control()) {
        return Err(format!(
            "{what} '{}' holds {}, which cannot be written into a crontab line",
            sh_comment(s),
            describe(c)
        ));
    }
    Ok(sh_word(s).replace('%', "\\%"))
}

fn describe(c: char) -> String {
    if c.is_control() {
        format!("a control character (U+{:04X})", c as u32)
    } else {
        format!("'{c}'")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `sh -c SCRIPT` and returns its standard output.
    fn sh(script: &str) -> String {
        let out = std::process::Command::new("sh")
            .args(["-c", script])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    }

    const HOSTILE: [&str; 8] = [
        "it's here",
        "x\nid > /tmp/pwned #",
        "$(id)",
        "`id`",
        "a;b|c&d",
        "'\\''",
        "%PATH% 100%",
        "",
    ];

    #[test]
    fn a_quoted_shell_word_reaches_the_command_unchanged() {
        assert_eq!(sh_word("shop"), "shop");
        assert_eq!(sh_word("/srv/etl/run.sh"), "/srv/etl/run.sh");
        assert_eq!(sh_word("it's here"), "'it'\\''s here'");
        assert_eq!(sh_word(""), "''");
        for s in HOSTILE {
            assert_eq!(sh(&format!("printf '%s' {}", sh_word(s))), s, "{s:?}");
        }
    }

    #[test]
    fn comments_stay_on_one_line() {
        assert_eq!(sh_comment("a\nb\rc\u{7}"), "a?b?c?");
        assert_eq!(bat_comment("1.0 & calc %x% ^\n"), "1.0 ? calc ?x? ??");
        for s in HOSTILE {
            assert!(!sh_comment(s).contains(['\n', '\r']));
            let rem = bat_comment(s);
            assert!(!rem.contains(['\n', '\r', '%', '^', '&', '|', '<', '>', '"', '!']));
        }
    }

    #[test]
    fn batch_words_are_quoted_or_refused() {
        assert_eq!(
            bat_word("C:\\Program Files (x86)\\etl & co", "the path").unwrap(),
            "\"C:\\Program Files (x86)\\etl & co\""
        );
        for bad in ["100%", "a\"b", "a^b", "a!b", "a\nb", "a\r\nb"] {
            let e = bat_word(bad, "the path").unwrap_err();
            assert!(
                e.starts_with("the path '") && e.contains("cannot be written safely"),
                "{e}"
            );
            assert!(!e.contains('\n'), "{e}");
        }
    }

    #[test]
    fn values_outside_cmd_quotes_are_plain_or_refused() {
        assert_eq!(
            bat_bare("C:\\etl 2\\x.bat", "the folder").unwrap(),
            "C:\\etl 2\\x.bat"
        );
        for bad in [
            "C:\\a & calc",
            "C:\\Program Files (x86)",
            "a|b",
            "a%b",
            "a\nb",
        ] {
            assert!(bat_bare(bad, "the folder").is_err(), "{bad:?}");
        }
    }

    #[test]
    fn cron_words_escape_percent_and_refuse_line_breaks() {
        assert_eq!(cron_word("/srv/etl", "--root").unwrap(), "/srv/etl");
        assert_eq!(cron_word("/srv/100%", "--root").unwrap(), "'/srv/100\\%'");
        let e = cron_word("/srv\n* * * * * id", "--root").unwrap_err();
        assert!(e.contains("control character (U+000A)"), "{e}");
    }
}
