//! The console's exports: a ledger as `.xlsx` (rust_xlsxwriter; every cell a string cell, so
//! nothing in it runs as a formula) or as CSV (UTF-8 with a BOM, so Excel reads the Chinese, and
//! every cell a spreadsheet would run as a formula neutralised as the enterprise export does).

use poem::Response;
use poem::http::StatusCode;

use crate::service::directory::spreadsheet_csv;

/// The most rows an export holds, so one request cannot build an unbounded file.
pub const EXPORT_LIMIT: usize = 50_000;

/// The refusal of an export of more than [`EXPORT_LIMIT`] rows, asking for narrower filters.
pub fn too_many(rows: usize) -> Option<Response> {
    if rows <= EXPORT_LIMIT {
        return None;
    }
    Some(super::pages::message(
        StatusCode::BAD_REQUEST,
        "导出内容过多",
        &format!(
            "符合条件的记录有 {rows} 条，一次最多导出 {EXPORT_LIMIT} 条；请按网格、企业、类型或日期筛选后分批导出。"
        ),
    ))
}

/// One sheet: its name, its header row and its rows.
pub struct Sheet {
    /// The sheet's name (at most 31 characters in a workbook).
    pub name: &'static str,
    /// The header.
    pub header: Vec<String>,
    /// The rows, each as long as the header.
    pub rows: Vec<Vec<String>>,
    /// The columns of counts: written to a workbook as numbers (so they sum), when they are.
    pub counts: &'static [usize],
}

/// The `Content-Disposition` of a download named `stem.extension` (RFC 6266: an ASCII fallback
/// and the UTF-8 name).
fn disposition(stem: &str, extension: &str) -> String {
    let encoded: String = format!("{stem}.{extension}")
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    format!("attachment; filename=\"export.{extension}\"; filename*=UTF-8''{encoded}")
}

fn download(bytes: Vec<u8>, media_type: &str, stem: &str, extension: &str) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .content_type(media_type)
        .header("Content-Disposition", disposition(stem, extension))
        .header("Cache-Control", "no-store")
        .header("X-Content-Type-Options", "nosniff")
        .body(bytes)
}

/// The workbook of one sheet, as bytes.
pub fn xlsx(sheet: &Sheet) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut workbook = rust_xlsxwriter::Workbook::new();
    let bold = rust_xlsxwriter::Format::new().set_bold();
    let worksheet = workbook.add_worksheet();
    worksheet.set_name(sheet.name)?;
    for (column, title) in sheet.header.iter().enumerate() {
        let column = u16::try_from(column).unwrap_or(u16::MAX);
        worksheet.write_string_with_format(0, column, title, &bold)?;
    }
    for (index, row) in sheet.rows.iter().enumerate() {
        let at = u32::try_from(index).unwrap_or(u32::MAX).saturating_add(1);
        for (index, cell) in row.iter().enumerate() {
            let column = u16::try_from(index).unwrap_or(u16::MAX);
            match cell.parse::<u32>() {
                Ok(count) if sheet.counts.contains(&index) => {
                    worksheet.write_number(at, column, f64::from(count))?;
                }
                _ => {
                    worksheet.write_string(at, column, cell)?;
                }
            }
        }
    }
    worksheet.set_freeze_panes(1, 0)?;
    workbook.save_to_buffer()
}

/// A sheet as an `.xlsx` download named `stem.xlsx`.
pub fn xlsx_download(sheet: &Sheet, stem: &str) -> Response {
    match xlsx(sheet) {
        Ok(bytes) => download(
            bytes,
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            stem,
            "xlsx",
        ),
        Err(err) => super::pages::failed(&err),
    }
}

/// A sheet as CSV: a BOM, then the header and rows, formula-like cells neutralised.
pub fn csv(sheet: &Sheet) -> Result<Vec<u8>, csv::Error> {
    spreadsheet_csv(&sheet.header, &sheet.rows)
}

/// A sheet as a CSV download named `stem.csv`.
pub fn csv_download(sheet: &Sheet, stem: &str) -> Response {
    match csv(sheet) {
        Ok(bytes) => download(bytes, "text/csv; charset=utf-8", stem, "csv"),
        Err(err) => super::pages::failed(&err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sheet() -> Sheet {
        Sheet {
            name: "隐患台账",
            counts: &[],
            header: vec!["编号".into(), "描述".into()],
            rows: vec![
                vec!["1".into(), "=cmd|' /C calc'!A0".into()],
                vec!["2".into(), "-2+3".into()],
                vec!["3".into(), "消防通道堵塞".into()],
            ],
        }
    }

    #[test]
    fn csv_starts_with_a_bom_and_neutralises_formulas() {
        let bytes = csv(&sheet()).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.starts_with('\u{feff}'));
        let lines: Vec<&str> = text.trim_start_matches('\u{feff}').lines().collect();
        assert_eq!(lines[0], "编号,描述");
        assert_eq!(lines[1], "1,'=cmd|' /C calc'!A0");
        assert_eq!(lines[2], "2,'-2+3");
        assert_eq!(lines[3], "3,消防通道堵塞");
    }

    #[test]
    fn a_download_names_its_file_in_utf8() {
        let value = disposition("隐患台账-2026-12-01", "xlsx");
        assert!(
            value.starts_with("attachment; filename=\"export.xlsx\"; filename*=UTF-8''%E9%9A%90")
        );
        assert!(value.ends_with("-2026-12-01.xlsx"));
    }
}
