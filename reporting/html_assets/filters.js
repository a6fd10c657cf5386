// Select filters on the Priority, Status, Age and Owner columns (reporting/html_report.py).
// pytest-html rebuilds #results-table on every sort, filter or click, so the selection is kept
// here and applied again whenever the table is replaced.
(() => {
  const chosen = {}
  const apply = () => {
    const rows = document.querySelectorAll('#results-table tbody.results-table-row')
    let shown = 0
    rows.forEach((row) => {
      const keep = Object.entries(chosen).every(([column, value]) => {
        const cell = row.querySelector(`td.col-${column}`)
        return !value || (cell !== null && cell.dataset.filter === value)
      })
      row.style.display = keep ? '' : 'none'
      if (keep && row.querySelector('td.col-result')) shown += 1
    })
    const counter = document.getElementById('readiness-shown')
    if (counter) counter.textContent = `${shown} case(s) shown`
  }
  window.addEventListener('DOMContentLoaded', () => {
    document.querySelectorAll('select.readiness-filter').forEach((select) => {
      select.value = ''
      select.addEventListener('change', () => {
        chosen[select.dataset.column] = select.value
        apply()
      })
    })
    new MutationObserver(apply).observe(document.body, { childList: true })
    apply()
  })
})()
