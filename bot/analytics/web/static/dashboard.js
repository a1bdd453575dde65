// Charts of the marketing dashboard (chart.js, served by the app). The data comes from the JSON block the page
// carries (#chart-data); labels are drawn on the canvas as text, never put into the page as HTML.
// A click on a bar or point opens the conversations behind it (/console/analytics/conversations).
(function () {
  "use strict";
  var source = document.getElementById("chart-data");
  if (!source || !window.Chart) {
    return;
  }
  var data = JSON.parse(source.textContent);
  var BLUE = "#0b3d5c", RED = "#c0392b", GREEN = "#2e7d32", ORANGE = "#e67e22", GREY = "#9aa5b1";

  function drillTo(dimension, code) {
    window.location.href = "/console/analytics/conversations?" + data.query + "&dimension=" +
      encodeURIComponent(dimension) + "&code=" + encodeURIComponent(code);
  }

  function chart(id, config, dimension, codes) {
    var canvas = document.getElementById(id);
    if (!canvas) {
      return null;
    }
    config.options = Object.assign({
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      onClick: function (event, elements) {
        if (elements.length && codes[elements[0].index] !== undefined) {
          drillTo(dimension, codes[elements[0].index]);
        }
      },
      onHover: function (event, elements) {
        canvas.style.cursor = elements.length ? "pointer" : "default";
      }
    }, config.options || {});
    var made = new Chart(canvas, config);
    canvas.setAttribute("data-drawn", "1");
    return made;
  }

  function pick(list, key) {
    return list.map(function (item) { return item[key]; });
  }

  var days = pick(data.days, "day");
  var dayLabels = days.map(function (day) { return day.slice(8, 10) + "." + day.slice(5, 7) + "."; });
  chart("chart-days", {
    type: "bar",
    data: {labels: dayLabels, datasets: [
      {label: "Gespräche", data: pick(data.days, "conversations"), backgroundColor: BLUE},
      {label: "Kündigungsabsichten", data: pick(data.days, "intents"), backgroundColor: RED}
    ]}
  }, "day", days);

  chart("chart-reasons", {
    type: "bar",
    data: {labels: pick(data.reasons, "label"),
           datasets: [{label: "Gespräche mit Kündigungsabsicht", data: pick(data.reasons, "conversations"),
                       backgroundColor: RED}]},
    options: {plugins: {legend: {display: false}}}
  }, "reason", pick(data.reasons, "code"));

  chart("chart-funnel", {
    type: "bar",
    data: {labels: pick(data.funnel, "label"),
           datasets: [{label: "Gespräche", data: pick(data.funnel, "conversations"),
                       backgroundColor: [RED, ORANGE, BLUE, GREEN, GREY, ORANGE]}]},
    options: {indexAxis: "y", plugins: {legend: {display: false}}}
  }, "step", pick(data.funnel, "code"));

  ["offer_kind", "reason", "segment"].forEach(function (dimension) {
    var shares = data.save_rate[dimension];
    chart("chart-" + dimension, {
      type: "bar",
      data: {labels: pick(shares, "label"), datasets: [
        {label: "gehalten", data: pick(shares, "held"), backgroundColor: GREEN, stack: "saves"},
        {label: "ausstehend", data: pick(shares, "pending"), backgroundColor: ORANGE, stack: "saves"},
        {label: "verloren", data: pick(shares, "lost"), backgroundColor: RED, stack: "saves"},
        {label: "ohne Rettung", backgroundColor: GREY, stack: "saves",
         data: shares.map(function (s) { return s.conversations - s.held - s.pending - s.lost; })}
      ]},
      options: {
        scales: {x: {stacked: true}, y: {stacked: true}},
        plugins: {tooltip: {callbacks: {footer: function (items) {
          var share = shares[items[0].dataIndex];
          return "Halterate: " + (share.save_rate === null ? "–" :
            (share.save_rate * 100).toFixed(1).replace(".", ",") + " %");
        }}}}
      }
    }, dimension, pick(shares, "code"));
  });

  chart("chart-dissatisfaction", {
    type: "line",
    data: {labels: dayLabels, datasets: [{label: "Unzufriedenheit (0–1)", data: pick(data.days, "dissatisfaction"),
                                          borderColor: RED, backgroundColor: RED, spanGaps: true}]},
    options: {scales: {y: {min: 0, max: 1}}}
  }, "day", days);
}());
