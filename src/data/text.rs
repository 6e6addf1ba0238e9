//! Text for people: long values cut for tables and messages.

/// `s` cut to `max` characters, with an ellipsis when it was longer.
pub fn shorten_text(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(max).collect::<String>())
    }
}
