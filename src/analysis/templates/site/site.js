/* The observatory's site (analysis.site): draws each chart of the page with vega-embed from the
 * page's JSON data, and keeps its filters, its data table and its CSV download in step.
 *
 * - Filters SELECT published rows (equality on période, territoire, dimension): nothing summed.
 * - Text from the data is written with textContent only, never as markup.
 * - Vega runs its expressions with vega-interpreter (ast: true): no eval, no Function().
 * - performance.mark('first-chart') when the first chart has been drawn with its data.
 */
(function () {
  'use strict';
  var FORMULA = ['=', '+', '-', '@', '\t', '\r'];
  var FR = {decimal: ',', thousands: '\u202f', grouping: [3], currency: ['', '\u00a0€']};

  /* A cell a spreadsheet shows as text: an apostrophe before a formula prefix
   * (the rule of analysis.publish.csv_safe). */
  function csvSafe(value) {
    var text = value === null || value === undefined ? '' : String(value);
    return text.length && FORMULA.indexOf(text.charAt(0)) !== -1 ? "'" + text : text;
  }
  function csvCell(value) {
    var text = csvSafe(value);
    return /[",\n\r;]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  function csvText(columns, rows) {
    var lines = [columns.map(function (c) { return csvCell(c[1]); }).join(',')];
    rows.forEach(function (row) {
      lines.push(columns.map(function (c) { return csvCell(row[c[0]]); }).join(','));
    });
    return lines.join('\r\n') + '\r\n';
  }

  var data = JSON.parse(document.getElementById('obs-site-data').textContent);
  var state = {};
  var firstDone = false;
  var drawn = 0;

  function selects(id) {
    return Array.prototype.slice.call(
      document.querySelectorAll('#' + id + ' select[data-filtre]'));
  }
  function selected(chart) {
    var filters = selects(chart.id).map(function (s) {
      return [s.getAttribute('data-filtre'), s.value];
    });
    return chart.rows.filter(function (row) {
      return filters.every(function (f) { return f[1] === '' || String(row[f[0]]) === f[1]; });
    });
  }
  function fillTable(chart, rows) {
    var body = document.querySelector('#' + chart.id + '-tableau tbody');
    while (body.firstChild) { body.removeChild(body.firstChild); }
    rows.forEach(function (row) {
      var tr = document.createElement('tr');
      chart.columns.forEach(function (c) {
        var td = document.createElement('td');
        td.textContent = row[c[0]] === null || row[c[0]] === undefined ? '' : String(row[c[0]]);
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }
  function summarise(chart, rows, shown) {
    var out = document.getElementById(chart.id + '-resume');
    var secret = rows.filter(function (r) { return r.secret; }).length;
    if (!rows.length) {
      out.textContent = 'Aucune ligne publiée pour cette sélection.';
      out.className = 'obs-summary obs-empty';
      return;
    }
    out.className = 'obs-summary';
    out.textContent = chart.spec.description + ' ' + rows.length + ' ligne(s) publiée(s) retenue(s), ' +
      shown + ' tracée(s)' + (secret ? ', ' + secret + ' masquée(s) (« s »)' : '') + '.';
  }
  /* Vega leaves the container of a mark with no item (every selected row secret, say) without
   * a text alternative: it says so. */
  function labelEmpty(chart) {
    var root = document.getElementById(chart.id + '-graphique');
    Array.prototype.forEach.call(root.querySelectorAll('[role="graphics-symbol"]'), function (g) {
      if (!g.childElementCount) { g.setAttribute('aria-label', 'aucune valeur tracée'); }
      else if (g.getAttribute('aria-label') === 'aucune valeur tracée') {
        g.removeAttribute('aria-label');
      }
    });
  }
  function update(chart) {
    var rows = selected(chart);
    var copies = drawnRows(rows);
    state[chart.id].rows = rows;
    fillTable(chart, rows);
    summarise(chart, rows, copies.length);
    var view = state[chart.id].view;
    return view.change('table', vega.changeset().remove(vega.truthy).insert(copies)).runAsync()
      .then(function () { labelEmpty(chart); });
  }
  function download(chart) {
    var text = csvText(chart.columns, state[chart.id].rows || []);
    var blob = new Blob(['\ufeff' + text], {type: 'text/csv;charset=utf-8'});
    var link = document.createElement('a');
    link.href = URL.createObjectURL(blob);
    link.download = chart.id + '.csv';
    document.body.appendChild(link);
    link.click();
    document.body.removeChild(link);
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 0);
  }

  window.obsSite = {
    csvSafe: csvSafe,
    csv: function (id) {
      var chart = data.charts.filter(function (c) { return c.id === id; })[0];
      return csvText(chart.columns, state[id].rows || []);
    },
    rows: function (id) { return (state[id] && state[id].rows) || []; },
    view: function (id) { return state[id] && state[id].view; }
  };

  /* The rows the filters select at load go into the specification itself (the named data set
   * « table »), so that the first drawing already has its data. */
  function withRows(spec, rows) {
    (function walk(node) {
      if (Array.isArray(node)) { node.forEach(walk); return; }
      if (!node || typeof node !== 'object') { return; }
      if (node.name === 'table' && Object.keys(node).every(function (k) {
        return k === 'name' || k === 'values'; })) { node.values = rows; return; }
      Object.keys(node).forEach(function (k) { walk(node[k]); });
    })(spec);
    return spec;
  }
  function drawnRows(rows) {
    return rows.filter(function (r) { return r.valeur !== null && r.valeur !== undefined; })
      .map(function (r) { return Object.assign({}, r); });
  }

  /* One chart after the other: the first one is drawn before the next is compiled. */
  function draw(chart) {
    state[chart.id] = {rows: [], view: null};
    var target = document.getElementById(chart.id + '-graphique');
    var initial = selected(chart);
    return vegaEmbed(target, withRows(chart.spec, drawnRows(initial)), {
      ast: true, expr: vega.expressionInterpreter, actions: false, renderer: 'svg',
      defaultStyle: false, tooltip: {disableDefaultStyle: true}, formatLocale: FR
    }).then(function (result) {
      state[chart.id].view = result.view;
      state[chart.id].rows = initial;
      fillTable(chart, initial);
      summarise(chart, initial, drawnRows(initial).length);
      labelEmpty(chart);
    }).then(function () {
      if (!firstDone) { firstDone = true; performance.mark('first-chart'); }
      drawn += 1;
      document.documentElement.setAttribute('data-graphiques', String(drawn));
      selects(chart.id).forEach(function (s) {
        s.addEventListener('change', function () {
          update(chart).then(function () {
            var n = Number(document.documentElement.getAttribute('data-mises-a-jour') || 0);
            document.documentElement.setAttribute('data-mises-a-jour', String(n + 1));
          });
        });
      });
      var button = document.querySelector('button.obs-csv[data-graphique="' + chart.id + '"]');
      button.addEventListener('click', function () { download(chart); });
    }).catch(function (error) {
      var out = document.getElementById(chart.id + '-resume');
      out.textContent = 'Graphique indisponible : ' + error;
      out.className = 'obs-summary obs-empty';
      console.error(error);
    });
  }
  data.charts.reduce(function (previous, chart) {
    return previous.then(function () { return draw(chart); });
  }, Promise.resolve());
})();
