// Live updates of the agent console over server-sent events (/console/events).
// Everything from the server is put into the page with textContent, never as HTML.
(function () {
  "use strict";
  var body = document.body;
  var page = body.getAttribute("data-page");
  if (["queue", "mine", "all", "conversation"].indexOf(page) < 0 || !window.EventSource) {
    return;
  }
  var handoff = body.getAttribute("data-handoff");
  var after = body.getAttribute("data-after") || "0";
  var state = document.getElementById("live-state");

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text;
    row.appendChild(td);
    return td;
  }

  function renderTable(table, entries) {
    var tbody = table.tBodies[0];
    var rows = [];
    entries.forEach(function (entry) {
      var row = document.createElement("tr");
      row.setAttribute("data-handoff", String(entry.handoff_id));
      row.className = "priority-" + entry.priority;
      cell(row, entry.priority_label);
      cell(row, entry.waiting);
      cell(row, entry.reason);
      cell(row, entry.channel);
      cell(row, entry.customer_name || "nicht identifiziert");
      cell(row, entry.segment || "\u2013");
      cell(row, entry.dissatisfaction === null ? "\u2013" : String(entry.dissatisfaction));
      cell(row, entry.status_label + (entry.agent_first_name ? " (" + entry.agent_first_name + ")" : ""));
      var link = document.createElement("a");
      link.href = "/console/conversations/" + encodeURIComponent(entry.handoff_id);
      link.textContent = "\u00d6ffnen";
      cell(row, "").appendChild(link);
      rows.push(row);
    });
    if (rows.length === 0) {
      var empty = document.createElement("tr");
      empty.className = "empty";
      var td = cell(empty, table.getAttribute("data-kind") === "waiting" ? "Niemand wartet." : "Keine Gespr\u00e4che.");
      td.colSpan = 9;
      rows.push(empty);
    }
    tbody.replaceChildren.apply(tbody, rows);
  }

  var authors = {customer: "Kunde", assistant: "Assistent"};

  function appendLines(lines) {
    var list = document.getElementById("transcript");
    if (!list) { return; }
    lines.forEach(function (line) {
      if (list.querySelector('[data-event="' + String(Number(line.id)) + '"]')) { return; }
      var item = document.createElement("li");
      item.className = "msg author-" + (authors[line.author] || line.author === "agent" ? line.author : "assistant");
      item.setAttribute("data-event", String(Number(line.id)));
      var who = document.createElement("span");
      who.className = "author";
      who.textContent = line.author === "agent" ? (line.agent || "Agent") : (authors[line.author] || "");
      var time = document.createElement("time");
      time.textContent = line.time || "";
      var text = document.createElement("p");
      text.className = "text";
      text.textContent = line.text;
      item.appendChild(who);
      item.appendChild(document.createTextNode(" "));
      item.appendChild(time);
      item.appendChild(text);
      list.appendChild(item);
    });
  }

  var url = "/console/events" + (handoff ? "?handoff=" + encodeURIComponent(handoff) + "&after=" +
                                  encodeURIComponent(after) : "");
  var source = new EventSource(url);
  source.onopen = function () { if (state) { state.textContent = "Live"; } };
  source.onerror = function () { if (state) { state.textContent = "Verbindung unterbrochen \u2013 wird neu verbunden \u2026"; } };
  source.addEventListener("queue", function (event) {
    var data = JSON.parse(event.data);
    [["queue", data.waiting], ["mine", data.mine], ["all", data.all]].forEach(function (pair) {
      var table = document.getElementById(pair[0]);
      if (table && pair[1]) { renderTable(table, pair[1]); }
    });
  });
  source.addEventListener("transcript", function (event) {
    appendLines(JSON.parse(event.data).lines);
  });
  source.addEventListener("handoff", function () {
    // Someone took, closed or reassigned the conversation: show the page as it is now.
    window.location.replace(window.location.pathname);
  });
  source.addEventListener("logout", function () {
    source.close();
    window.location.assign("/console/login");
  });
}());
