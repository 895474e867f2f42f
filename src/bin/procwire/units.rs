//! Sizes and durations on the command line and in output: one parser and one formatter each,
//! used by every subcommand.
//!
//! Sizes are bytes, or a whole number with a binary suffix: `K`, `KB` or `KiB` (1024), and the
//! same for `M` and `G`, in any case. Durations are `500ms`, `20s`, `2m`, `1h`, or bare seconds
//! (`0.5`, `20`).

use std::time::Duration;

const SIZE_UNITS: &str = "K, KB or KiB (and M, G: all binary, 1024-based)";

/// Parses a size: `4096`, `4096B`, `64K`, `64KB`, `64KiB`, `256M`, `2G` (binary units,
/// case-insensitive). The error names the whole input and the whole bad unit.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let shift = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ if num.is_empty() || unit.starts_with(['.', ',']) => {
            return Err(format!(
                "{s:?} is not a size; give a whole number of bytes or of {SIZE_UNITS}, e.g. \
                 4096, 64K, 256MiB or 2G"
            ));
        }
        _ => {
            return Err(format!(
                "{s:?}: unknown suffix {unit:?}; use none (bytes), B, or {SIZE_UNITS}"
            ));
        }
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("{s:?} is not a size; try 4096, 64K, 256MiB or 2G"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{s:?} is too large"))
}

/// The shortest duration any option takes: below it a timer cannot keep its word.
pub const MIN_DURATION: Duration = Duration::from_millis(1);

/// Parses a duration, `500ms`, `20s`, `2m`, `1h` or bare seconds (`0.5`), between
/// [`MIN_DURATION`] and `max`; the errors say which bound was crossed and give it.
pub fn parse_duration(s: &str, max: Duration) -> Result<Duration, String> {
    let t = s.trim();
    let range = || {
        format!(
            "give {} to {}",
            format_duration(MIN_DURATION),
            format_duration(max)
        )
    };
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 1e-3)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else if let Some(n) = t.strip_suffix('h') {
        (n, 3600.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| !v.is_nan())
        .ok_or_else(|| {
            format!("{s:?} is not a duration; give e.g. 500ms, 20s, 2m or bare seconds (0.5)")
        })?;
    let secs = v * scale;
    if secs < 0.0 {
        return Err(format!("{s:?}: a duration cannot be negative; {}", range()));
    }
    if secs > max.as_secs_f64() {
        return Err(format!(
            "{s:?} is too long: at most {}",
            format_duration(max)
        ));
    }
    if secs < MIN_DURATION.as_secs_f64() {
        return Err(format!(
            "{s:?} is too short: at least {}",
            format_duration(MIN_DURATION)
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `1ms`, `250ms`, `20s`, `1.5s`, `10m`, `24h`: the largest unit the duration is a whole or
/// one-decimal number of.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1e3;
    let (v, unit) = if ms < 1000.0 {
        (ms, "ms")
    } else if ms < 60_000.0 || (ms / 60_000.0).fract() != 0.0 && ms < 3_600_000.0 {
        (ms / 1e3, "s")
    } else if ms < 3_600_000.0 || (ms / 3_600_000.0).fract() != 0.0 {
        (ms / 60_000.0, "m")
    } else {
        (ms / 3_600_000.0, "h")
    };
    if v.fract() == 0.0 {
        format!("{v:.0}{unit}")
    } else {
        format!("{}{unit}", (v * 10.0).round() / 10.0)
    }
}

/// `512 B`, `64 KiB`, `1.5 MiB`, `3.8 MiB`: the largest binary unit that keeps the figure at
/// least 1, with one decimal unless it is whole. Every size procwire prints goes through here.
pub fn format_size(n: u64) -> String {
    procwire::wire::Size(usize::try_from(n).unwrap_or(usize::MAX)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_every_spelling_of_the_binary_units() {
        for (s, v) in [
            ("4096", 4096),
            ("4096B", 4096),
            ("12K", 12 << 10),
            ("12KB", 12 << 10),
            ("12KiB", 12 << 10),
            ("64kb", 64 << 10),
            ("12MiB", 12 << 20),
            ("256M", 256 << 20),
            ("2g", 2 << 30),
            ("2GiB", 2 << 30),
            (" 1M ", 1 << 20),
        ] {
            assert_eq!(parse_size(s), Ok(v), "{s}");
        }
    }

    #[test]
    fn a_bad_size_names_its_whole_unit() {
        let e = parse_size("12XB").unwrap_err();
        assert!(e.contains("unknown suffix \"XB\""), "{e}");
        let e = parse_size("12Q").unwrap_err();
        assert!(e.contains("unknown suffix \"Q\""), "{e}");
        assert!(parse_size("1.5M").unwrap_err().contains("not a size"));
        assert!(parse_size("M").unwrap_err().contains("not a size"));
        assert!(parse_size("").unwrap_err().contains("not a size"));
        assert!(
            parse_size("99999999999G")
                .unwrap_err()
                .contains("too large")
        );
    }

    #[test]
    fn durations_take_units_and_bare_seconds() {
        let max = Duration::from_secs(86_400);
        for (s, ms) in [
            ("500ms", 500),
            ("20s", 20_000),
            ("2m", 120_000),
            ("1h", 3_600_000),
            ("0.5", 500),
            ("20", 20_000),
            ("1ms", 1),
            ("0.001", 1),
        ] {
            assert_eq!(parse_duration(s, max), Ok(Duration::from_millis(ms)), "{s}");
        }
    }

    #[test]
    fn durations_out_of_range_say_which_bound_and_give_it() {
        let max = Duration::from_secs(86_400);
        let e = parse_duration("1e10", max).unwrap_err();
        assert!(e.contains("too long: at most 24h"), "{e}");
        let e = parse_duration("0.000001", max).unwrap_err();
        assert!(e.contains("too short: at least 1ms"), "{e}");
        let e = parse_duration("-5", max).unwrap_err();
        assert!(e.contains("cannot be negative; give 1ms to 24h"), "{e}");
        assert!(
            parse_duration("soon", max)
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(
            parse_duration("NaN", max)
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse_duration("inf", max).unwrap_err().contains("too long"));
        assert!(parse_duration("0", max).unwrap_err().contains("too short"));
    }

    #[test]
    fn durations_print_in_their_largest_whole_unit() {
        let f = |ms| format_duration(Duration::from_millis(ms));
        assert_eq!(f(1), "1ms");
        assert_eq!(f(250), "250ms");
        assert_eq!(f(1500), "1.5s");
        assert_eq!(f(20_000), "20s");
        assert_eq!(f(90_000), "90s");
        assert_eq!(f(600_000), "10m");
        assert_eq!(f(86_400_000), "24h");
    }

    #[test]
    fn sizes_print_in_binary_units() {
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_size(1023), "1023 B");
        assert_eq!(format_size(1024), "1 KiB");
        assert_eq!(format_size(4096), "4 KiB");
        assert_eq!(format_size(212_992), "208 KiB");
        assert_eq!(format_size(1_048_576), "1 MiB");
        assert_eq!(format_size(1_572_864), "1.5 MiB");
        assert_eq!(format_size(3_939_840), "3.8 MiB");
        assert_eq!(format_size(4_194_304), "4 MiB");
        assert_eq!(format_size(1_500_000), "1.4 MiB");
        // Just under a unit rounds up into it rather than printing 1024.0 of the smaller one.
        assert_eq!(format_size(1_048_575), "1 MiB");
    }
}
