// dabench report: click a column header to sort its table; type in the box to filter rows.
(function () {
  "use strict";
  function sortKey(cell) {
    var text = cell.textContent.trim().replace("\u2212", "-");
    if (text === "" || text === "\u2014") return null;  // empty or "—": always last
    var num = parseFloat(text);
    return isNaN(num) ? text.toLowerCase() : num;
  }
  function compare(a, b) {
    if (a === null || b === null) return (a === null) - (b === null);
    if (typeof a !== typeof b) return typeof a === "number" ? -1 : 1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, col) {
      th.addEventListener("click", function () {
        var dir = th.getAttribute("data-dir") === "asc" ? "desc" : "asc";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("data-dir"); });
        th.setAttribute("data-dir", dir);
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (r, s) {
          var a = sortKey(r.cells[col]), b = sortKey(s.cells[col]);
          if (a === null || b === null) return compare(a, b);  // missing last either way
          return dir === "asc" ? compare(a, b) : compare(b, a);
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  var box = document.getElementById("filter");
  if (box) box.addEventListener("input", function () {
    var words = box.value.toLowerCase().split(/\s+/).filter(Boolean);
    document.querySelectorAll("table.sortable tbody tr").forEach(function (row) {
      var text = row.textContent.toLowerCase();
      row.hidden = !words.every(function (w) { return text.indexOf(w) >= 0; });
    });
  });
})();
