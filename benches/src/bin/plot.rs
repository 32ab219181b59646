//! `plot`: CSV in, an SVG line chart out (axes, labels, a legend).
//!
//! ```text
//! plot [-o OUT.svg] [--y COLUMN]... [--label NAME]... [--title T] [--x-label L] [--y-label L] FILE.csv...
//! ```
//!
//! Each file has a header row; its first column is x, and every other column (or only
//! those named with `--y`) is one series. Several files are several series of the same
//! columns: the soak tool's `time_s,rss_kib,cpu_pct` for the daemon and for ptp4l are
//! plotted with `plot --y rss_kib --label tempora --label ptp4l daemon.csv ptp4l.csv`.
//! Series are named by `--label` (one per file, default the file's stem), followed by
//! the column when a file gives more than one.
//!
//! Plain numeric CSV: comma-separated, no quoting. An empty cell is a gap (no point);
//! anything else that is not a number, a row with the wrong number of cells, or a
//! missing column is an error naming the file and line, never a panic.
//!
//! The SVG is drawn by plotters' SVG backend alone: text is written as `<text>` and
//! laid out by plotters' built-in estimate, so no font library is linked.

use std::fmt;
use std::path::{Path, PathBuf};

use clap::Parser;
use plotters::prelude::*;

#[derive(Parser, Debug)]
#[command(about = "Plot CSV columns as an SVG line chart")]
struct Args {
    /// CSV files (header row; first column x). Each is one series per y column.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Where to write the SVG (default: the first file with `.svg`).
    #[arg(short, long)]
    out: Option<PathBuf>,
    /// A column to plot as y (repeatable; default every column but the first).
    #[arg(long = "y")]
    columns: Vec<String>,
    /// A series name per file, in order (default: the file's stem).
    #[arg(long = "label")]
    labels: Vec<String>,
    /// The chart's title.
    #[arg(long, default_value = "")]
    title: String,
    /// The x axis' description (default: the first column's name).
    #[arg(long)]
    x_label: Option<String>,
    /// The y axis' description (default: the y column's name, if there is one).
    #[arg(long)]
    y_label: Option<String>,
    /// Width and height in pixels.
    #[arg(long, default_value_t = 900)]
    width: u32,
    #[arg(long, default_value_t = 480)]
    height: u32,
}

/// One CSV file: its column names and rows (`None` for an empty cell).
#[derive(Debug, Clone, PartialEq)]
struct Table {
    columns: Vec<String>,
    rows: Vec<Vec<Option<f64>>>,
}

/// A named line: (x, y) points in file order.
#[derive(Debug, Clone, PartialEq)]
struct Series {
    name: String,
    points: Vec<(f64, f64)>,
}

/// What the chart says besides its data.
#[derive(Debug, Clone, Default)]
struct Labels {
    title: String,
    x: String,
    y: String,
}

#[derive(Debug)]
enum PlotError {
    Io(PathBuf, std::io::Error),
    Csv {
        file: String,
        line: usize,
        what: String,
    },
    NoColumn {
        file: String,
        column: String,
    },
    NoData,
    Labels {
        files: usize,
        labels: usize,
    },
    Draw(String),
}

impl fmt::Display for PlotError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(p, e) => write!(f, "{}: {e}", p.display()),
            Self::Csv { file, line, what } => write!(f, "{file}:{line}: {what}"),
            Self::NoColumn { file, column } => write!(f, "{file}: no column '{column}'"),
            Self::NoData => f.write_str("nothing to plot: no series has a point"),
            Self::Labels { files, labels } => {
                write!(
                    f,
                    "{labels} --label for {files} files: give one per file or none"
                )
            }
            Self::Draw(e) => write!(f, "drawing the chart: {e}"),
        }
    }
}

impl std::error::Error for PlotError {}

/// Parses one CSV text; `name` is for error messages.
fn parse_csv(name: &str, text: &str) -> Result<Table, PlotError> {
    let err = |line: usize, what: String| PlotError::Csv {
        file: name.to_string(),
        line,
        what,
    };
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim_end_matches('\r')))
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines
        .next()
        .ok_or_else(|| err(1, "empty file: no header row".into()))?;
    let columns: Vec<String> = header.split(',').map(|c| c.trim().to_string()).collect();
    if columns.len() < 2 {
        return Err(err(
            1,
            format!("header '{header}' has fewer than 2 columns"),
        ));
    }
    if let Some(c) = columns.iter().find(|c| c.is_empty()) {
        return Err(err(
            1,
            format!("header '{header}' has an empty column name {c:?}"),
        ));
    }
    let mut rows = Vec::new();
    for (n, line) in lines {
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != columns.len() {
            return Err(err(
                n,
                format!("{} cells, the header has {}", cells.len(), columns.len()),
            ));
        }
        let row = cells
            .iter()
            .zip(&columns)
            .map(|(cell, column)| match *cell {
                "" => Ok(None),
                c => match c.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok(Some(v)),
                    _ => Err(err(
                        n,
                        format!("'{c}' in column '{column}' is not a number"),
                    )),
                },
            })
            .collect::<Result<Vec<_>, _>>()?;
        rows.push(row);
    }
    Ok(Table { columns, rows })
}

/// The series of `tables` (each with its label): one per file and y column.
fn series(tables: &[(String, Table)], columns: &[String]) -> Result<Vec<Series>, PlotError> {
    let mut out = Vec::new();
    for (label, table) in tables {
        let wanted: Vec<&String> = if columns.is_empty() {
            table.columns[1..].iter().collect()
        } else {
            columns.iter().collect()
        };
        for column in &wanted {
            let idx = table.columns[1..]
                .iter()
                .position(|c| c == *column)
                .map(|i| i + 1)
                .ok_or_else(|| PlotError::NoColumn {
                    file: label.clone(),
                    column: column.to_string(),
                })?;
            let name = match (tables.len(), wanted.len()) {
                (1, n) if n > 1 => column.to_string(),
                (_, 1) => label.clone(),
                _ => format!("{label} {column}"),
            };
            let points = table
                .rows
                .iter()
                .filter_map(|r| Some((r[0]?, r[idx]?)))
                .collect();
            out.push(Series { name, points });
        }
    }
    Ok(out)
}

/// `[lo, hi]` widened by 5% (and to a unit around a single value), so lines do not sit
/// on the frame.
fn padded(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = values.fold(None, |acc: Option<(f64, f64)>, v| {
        Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
    })?;
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        lo.abs().max(1.0) * 0.5
    };
    Some((lo - pad, hi + pad))
}

/// Tick labels with as many decimals as an axis spanning `span` needs: `500`, not
/// `500.0`; `0.25` where the span is small.
fn ticks(span: f64) -> impl Fn(&f64) -> String {
    let decimals = if span >= 10.0 {
        0
    } else {
        (1.0 - span.log10().floor()).clamp(1.0, 9.0) as usize
    };
    move |v| format!("{v:.decimals$}")
}

/// Draws `series` as an SVG document.
fn render(series: &[Series], labels: &Labels, size: (u32, u32)) -> Result<String, PlotError> {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (x0, x1) = padded(all().map(|p| p.0)).ok_or(PlotError::NoData)?;
    let (y0, y1) = padded(all().map(|p| p.1)).ok_or(PlotError::NoData)?;
    let draw = |e: &dyn fmt::Display| PlotError::Draw(e.to_string());
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        root.fill(&WHITE).map_err(|e| draw(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(&labels.title, ("sans-serif", 20))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| draw(&e))?;
        let (x_fmt, y_fmt) = (ticks(x1 - x0), ticks(y1 - y0));
        chart
            .configure_mesh()
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .x_desc(labels.x.as_str())
            .y_desc(labels.y.as_str())
            .axis_desc_style(("sans-serif", 15))
            .label_style(("sans-serif", 13))
            .light_line_style(WHITE.mix(0.0))
            .draw()
            .map_err(|e| draw(&e))?;
        for (i, s) in series.iter().enumerate() {
            let colour = Palette99::pick(i).to_rgba();
            chart
                .draw_series(LineSeries::new(
                    s.points.iter().copied(),
                    colour.stroke_width(2),
                ))
                .map_err(|e| draw(&e))?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|e| draw(&e))?;
        root.present().map_err(|e| draw(&e))?;
    }
    Ok(svg)
}

/// The whole tool, from parsed arguments: reads, draws, and returns the SVG and where it
/// goes.
fn run(args: &Args) -> Result<(String, PathBuf), PlotError> {
    if !args.labels.is_empty() && args.labels.len() != args.files.len() {
        return Err(PlotError::Labels {
            files: args.files.len(),
            labels: args.labels.len(),
        });
    }
    let mut tables = Vec::new();
    for (i, path) in args.files.iter().enumerate() {
        let text = std::fs::read_to_string(path).map_err(|e| PlotError::Io(path.clone(), e))?;
        let label = args.labels.get(i).cloned().unwrap_or_else(|| stem(path));
        let table = parse_csv(&path.display().to_string(), &text)?;
        tables.push((label, table));
    }
    let series = series(&tables, &args.columns)?;
    let first = &tables[0].1;
    let labels = Labels {
        title: args.title.clone(),
        x: args
            .x_label
            .clone()
            .unwrap_or_else(|| first.columns[0].clone()),
        y: args
            .y_label
            .clone()
            .unwrap_or_else(|| match args.columns.as_slice() {
                [one] => one.clone(),
                [] if first.columns.len() == 2 => first.columns[1].clone(),
                _ => String::new(),
            }),
    };
    let svg = render(&series, &labels, (args.width, args.height))?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.files[0].with_extension("svg"));
    Ok((svg, out))
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn main() {
    let args = Args::parse();
    let result = run(&args).and_then(|(svg, out)| {
        std::fs::write(&out, svg).map_err(|e| PlotError::Io(out.clone(), e))?;
        Ok(out)
    });
    match result {
        Ok(out) => eprintln!("plot: wrote {}", out.display()),
        Err(e) => {
            eprintln!("plot: {e}");
            std::process::exit(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every tag opened is closed, in order, and the document is one `<svg>` element.
    /// Returns the texts it shows.
    fn assert_well_formed_svg(svg: &str) -> Vec<String> {
        use quick_xml::events::Event;
        let mut reader = quick_xml::Reader::from_str(svg);
        reader.config_mut().check_end_names = true;
        let (mut depth, mut root, mut texts) = (0usize, None, Vec::new());
        loop {
            match reader.read_event() {
                Ok(Event::Start(e)) => {
                    if depth == 0 {
                        root = Some(String::from_utf8_lossy(e.name().as_ref()).into_owned());
                    }
                    depth += 1;
                }
                Ok(Event::End(_)) => depth -= 1,
                Ok(Event::Text(t)) => {
                    let t = String::from_utf8_lossy(t.as_ref()).trim().to_string();
                    if !t.is_empty() {
                        texts.push(t);
                    }
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => panic!(
                    "not well-formed at {}: {e}\n{svg}",
                    reader.buffer_position()
                ),
            }
        }
        assert_eq!(depth, 0, "unclosed elements");
        assert_eq!(root.as_deref(), Some("svg"));
        texts
    }

    fn soak(rss: &[u32]) -> String {
        let mut csv = String::from("time_s,rss_kib,cpu_pct\n");
        for (i, r) in rss.iter().enumerate() {
            csv.push_str(&format!("{i},{r},{}.5\n", i % 3));
        }
        csv
    }

    fn args(files: &[&Path]) -> Args {
        Args {
            files: files.iter().map(|p| p.to_path_buf()).collect(),
            out: None,
            columns: Vec::new(),
            labels: Vec::new(),
            title: String::new(),
            x_label: None,
            y_label: None,
            width: 640,
            height: 360,
        }
    }

    #[test]
    fn two_soak_files_are_two_series_with_a_legend_and_axis_labels() {
        let dir = std::env::temp_dir().join(format!("tempora-plot-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (daemon, ptp4l) = (dir.join("daemon.csv"), dir.join("ptp4l.csv"));
        std::fs::write(&daemon, soak(&[5120, 5124, 5130, 5130])).unwrap();
        std::fs::write(&ptp4l, soak(&[2048, 2050, 2050])).unwrap();
        let mut a = args(&[&daemon, &ptp4l]);
        a.columns = vec!["rss_kib".into()];
        a.labels = vec!["tempora run".into(), "ptp4l".into()];
        a.title = "Resident memory".into();
        let (svg, out) = run(&a).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();

        let texts = assert_well_formed_svg(&svg);
        assert_eq!(out, dir.join("daemon.svg"));
        for text in [
            "tempora run",
            "ptp4l",
            "Resident memory",
            "time_s",
            "rss_kib",
        ] {
            assert!(
                texts.iter().any(|t| t == text),
                "no text {text:?} in {texts:?}"
            );
        }
        // Two lines in two colours, each with its mark in the legend.
        let lines: Vec<&str> = svg
            .lines()
            .filter(|l| l.starts_with("<polyline") && l.contains(r#"stroke-width="2""#))
            .collect();
        assert_eq!(
            lines.len(),
            2 + 2,
            "two series, two legend marks: {lines:?}"
        );
        for i in 0..2 {
            let (r, g, b) = Palette99::pick(i).rgb();
            let colour = format!(r##"stroke="#{r:02X}{g:02X}{b:02X}""##);
            let n = lines.iter().filter(|l| l.contains(&colour)).count();
            assert_eq!(n, 2, "{colour} in {lines:?}");
        }
    }

    #[test]
    fn one_file_plots_every_column_named_by_column() {
        let table = parse_csv("soak.csv", &soak(&[1, 2, 3])).unwrap();
        let s = series(&[("soak".into(), table)], &[]).unwrap();
        let names: Vec<_> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["rss_kib", "cpu_pct"]);
        assert_eq!(s[1].points, [(0.0, 0.5), (1.0, 1.5), (2.0, 2.5)]);
        let svg = render(&s, &Labels::default(), (400, 300)).unwrap();
        assert_well_formed_svg(&svg);
    }

    #[test]
    fn empty_cells_are_gaps_and_crlf_and_blank_lines_are_fine() {
        let t = parse_csv("t", "x,a,b\r\n0,1,\r\n\r\n1,,2\r\n").unwrap();
        assert_eq!(
            t.rows,
            [
                vec![Some(0.0), Some(1.0), None],
                vec![Some(1.0), None, Some(2.0)]
            ]
        );
        let s = series(&[("t".into(), t)], &["b".into()]).unwrap();
        assert_eq!(s[0].points, [(1.0, 2.0)]);
    }

    #[test]
    fn tick_labels_fit_the_span() {
        assert_eq!(ticks(4000.0)(&-2500.0), "-2500");
        assert_eq!(ticks(40.0)(&35.0), "35");
        assert_eq!(ticks(5.0)(&2.5), "2.5");
        assert_eq!(ticks(0.04)(&0.025), "0.025");
    }

    #[test]
    fn a_single_point_still_draws() {
        let s = [Series {
            name: "one".into(),
            points: vec![(3.0, 3.0)],
        }];
        assert_well_formed_svg(&render(&s, &Labels::default(), (300, 200)).unwrap());
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let cases = [
            ("", "empty file"),
            ("\n\n", "empty file"),
            ("time_s\n1\n", "fewer than 2 columns"),
            ("time_s,,b\n1,2,3\n", "empty column name"),
            ("time_s,rss\n1,2,3\n", "3 cells, the header has 2"),
            ("time_s,rss\n1\n", "1 cells"),
            (
                "time_s,rss\n1,lots\n",
                "'lots' in column 'rss' is not a number",
            ),
            ("time_s,rss\n1,NaN\n", "not a number"),
            ("time_s,rss\n1,inf\n", "not a number"),
            ("time_s,rss\n\"1\",2\n", "not a number"),
        ];
        for (text, want) in cases {
            let e = parse_csv("bad.csv", text).expect_err(text).to_string();
            assert!(
                e.starts_with("bad.csv:") && e.contains(want),
                "{text:?}: {e}"
            );
        }
        let t = parse_csv("t", "x,a\n1,2\n").unwrap();
        let e = series(&[("t".into(), t.clone())], &["b".into()]).unwrap_err();
        assert_eq!(e.to_string(), "t: no column 'b'");
        // The x column is not a y column.
        assert!(series(&[("t".into(), t)], &["x".into()]).is_err());
        // Only gaps: nothing to draw.
        let gaps = parse_csv("g", "x,a\n1,\n2,\n").unwrap();
        let s = series(&[("g".into(), gaps)], &[]).unwrap();
        assert!(matches!(
            render(&s, &Labels::default(), (300, 200)),
            Err(PlotError::NoData)
        ));
        // A missing file and a label count that does not match.
        let missing = Path::new("/nonexistent/tempora-plot.csv");
        assert!(matches!(run(&args(&[missing])), Err(PlotError::Io(..))));
        let mut a = args(&[missing]);
        a.labels = vec!["a".into(), "b".into()];
        assert!(matches!(
            run(&a),
            Err(PlotError::Labels {
                files: 1,
                labels: 2
            })
        ));
    }
}
