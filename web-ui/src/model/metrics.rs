//! Words for a metric series: what a screen reader hears instead of the chart, and the
//! caption a sighted person reads under it.

/// `Incoming records, last 60 minutes: 1,234 in all, at most 310 a minute (18:04).` For
/// gauges (iterator age) the "in all" is meaningless, so only the peak is named.
pub fn summary(
    title: &str,
    minutes: &[String],
    values: &[u64],
    show: impl Fn(u64) -> String,
) -> String {
    let span = values.len();
    let Some((peak_index, peak)) = values
        .iter()
        .copied()
        .enumerate()
        .max_by_key(|(i, v)| (*v, usize::MAX - i))
    else {
        return format!("{title}: no data.");
    };
    if peak == 0 {
        return format!("{title}, last {span} minutes: none.");
    }
    let at = minutes.get(peak_index).map(String::as_str).unwrap_or("?");
    if title.starts_with("Iterator age") {
        return format!(
            "{title}, last {span} minutes: at most {} ({at}).",
            show(peak)
        );
    }
    let total: u64 = values.iter().sum();
    format!(
        "{title}, last {span} minutes: {} in all, at most {} a minute ({at}).",
        show(total),
        show(peak)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_name_total_and_peak() {
        let minutes = vec!["18:00".to_owned(), "18:01".to_owned(), "18:02".to_owned()];
        assert_eq!(
            summary("Incoming records", &minutes, &[5, 20, 20], |v| v
                .to_string()),
            "Incoming records, last 3 minutes: 45 in all, at most 20 a minute (18:01)."
        );
        assert_eq!(
            summary("Incoming bytes", &minutes, &[0, 0, 0], |v| v.to_string()),
            "Incoming bytes, last 3 minutes: none."
        );
        assert_eq!(
            summary(
                "Iterator age (max per minute)",
                &minutes,
                &[0, 900, 10],
                |v| format!("{v} ms")
            ),
            "Iterator age (max per minute), last 3 minutes: at most 900 ms (18:01)."
        );
        assert_eq!(summary("X", &[], &[], |v| v.to_string()), "X: no data.");
    }
}
