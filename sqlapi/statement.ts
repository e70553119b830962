/** The Content-Type a ClickHouse server sends with each output format. */
export function contentTypeFor(format: string): string {
  const f = format.toLowerCase();
  if (
    f === 'jsoneachrow' ||
    f === 'jsonlines' ||
    f === 'ndjson' ||
    f === 'jsoncompacteachrow' ||
    f.startsWith('jsoneachrowwith') ||
    f.startsWith('jsoncompacteachrowwith') ||
    f === 'jsonstringseachrow'
  ) {
    return 'application/x-ndjson; charset=UTF-8';
  }
  if (f.startsWith('json')) return 'application/json; charset=UTF-8';
  if (f === 'csv' || f === 'csvwithnames' || f === 'csvwithnamesandtypes') {
    return `text/csv; charset=UTF-8; header=${f === 'csv' ? 'absent' : 'present'}`;
  }
  if (f.startsWith('tabseparated') || f.startsWith('tsv')) return 'text/tab-separated-values; charset=UTF-8';
  if (f === 'xml') return 'application/xml; charset=UTF-8';
  if (f === 'markdown' || f === 'md') return 'text/markdown; charset=UTF-8';
  if (f.startsWith('pretty') || f === 'vertical' || f === 'values' || f === 'template' || f === 'customseparated' || f === 'raw' || f.startsWith('linesasstring')) {
    return 'text/plain; charset=UTF-8';
  }
  return 'application/octet-stream';
}
