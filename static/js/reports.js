// The reports page's charts (templates/reports.html), drawn by Chart.js: the vendored
// static/vendor/chart.js/chart.umd.js, a classic script loaded before this module
// (window.Chart). What each chart draws comes from the server, in #report-drawings
// (state/livehelp/report_figures.py, `drawing`); the summary sentence and the table under
// each chart say the same in words and numbers.
//
// Readable without colour: the two lines of a chart differ in dash and point shape as
// well as colour, each is named in words at its last point (and in the legend, drawn
// with the same shapes), and a chart of bars and a line has them on two named axes.

import "./transcript.js"; // the reader's time zone in the address: the days are theirs

const INK = "#1f2933";
const MUTED = "#52606d";
const GRID = "#e4e9ee";
// Dark blue and dark orange: told apart by most colour vision, both 4.5:1 on white.
const COLOURS = ["#0b5fa5", "#b34700"];
const POINTS = ["circle", "triangle"];
const DASHES = [[], [7, 4]];
// Room right of the plot for the names written at the lines' ends.
const LABEL_ROOM = 112;
const LABEL_GAP = 14; // least distance between two names at the end, in pixels
// Steps of a time axis, in seconds: ticks fall on whole minutes and hours, not 100 s.
const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800];
const MOST_TICKS = 6;
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** "2026-03-05" as "5 Mar" (the label is a day: no time zone enters). */
function dayWords(iso) {
  const [, month, day] = iso.split("-").map(Number);
  return `${day} ${MONTHS[month - 1]}`;
}

/** Seconds in words, as the tables write them: "45 s", "2 min 5 s", "1 h 3 min". */
function durationWords(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const whole = Math.round(seconds);
  const hours = Math.floor(whole / 3600);
  const minutes = Math.floor((whole % 3600) / 60);
  const secs = whole % 60;
  if (hours) return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
  if (minutes) return secs ? `${minutes} min ${secs} s` : `${minutes} min`;
  return `${secs} s`;
}

function valueWords(value, unit) {
  if (value === null || value === undefined) return "no data";
  if (unit === "seconds") return durationWords(value);
  if (unit === "score") return Number(value).toFixed(1);
  return String(value);
}

/** Each line named in words at its last point, names kept apart when the ends meet. */
const directLabels = {
  id: "directLabels",
  afterDatasetsDraw(chart) {
    const { ctx } = chart;
    const names = [];
    chart.data.datasets.forEach((dataset, index) => {
      const meta = chart.getDatasetMeta(index);
      if (!dataset.directLabel || meta.hidden) return;
      for (let i = dataset.data.length - 1; i >= 0; i -= 1) {
        if (dataset.data[i] === null || dataset.data[i] === undefined) continue;
        names.push({ text: dataset.label, colour: dataset.borderColor, x: meta.data[i].x, y: meta.data[i].y });
        break;
      }
    });
    names.sort((a, b) => a.y - b.y);
    for (let i = 1; i < names.length; i += 1) {
      names[i].y = Math.max(names[i].y, names[i - 1].y + LABEL_GAP);
    }
    ctx.save();
    ctx.font = "600 12px system-ui, sans-serif";
    ctx.textBaseline = "middle";
    for (const name of names) {
      ctx.fillStyle = name.colour;
      ctx.fillText(name.text, name.x + 8, name.y);
    }
    ctx.restore();
  },
};

function lineDataset(series, index, axis = "y") {
  return {
    type: "line", label: series.name, data: series.values, yAxisID: axis,
    borderColor: COLOURS[index], backgroundColor: COLOURS[index], borderWidth: 2,
    borderDash: DASHES[index], pointStyle: POINTS[index], pointRadius: 4, pointHoverRadius: 6,
    spanGaps: false, directLabel: true,
  };
}

function barDataset(series, axis = "y") {
  return { type: "bar", label: series.name, data: series.values, yAxisID: axis,
    backgroundColor: "#7fa7cf", borderColor: COLOURS[0], borderWidth: 1 };
}

/** The least step of TIME_STEPS that spans `most` seconds in at most MOST_TICKS ticks. */
function timeStep(most) {
  return TIME_STEPS.find((step) => most / step <= MOST_TICKS) || TIME_STEPS[TIME_STEPS.length - 1];
}

function valueAxis(unit, extra = {}, most = 0) {
  const ticks = { color: MUTED, precision: unit === "count" ? 0 : undefined, maxRotation: 0 };
  if (unit === "seconds") {
    ticks.callback = (value) => durationWords(value);
    ticks.stepSize = timeStep(most);
  }
  return { beginAtZero: true, grid: { color: GRID }, ticks, ...extra };
}

/** The Chart.js configuration for one drawing of the server's. */
function configure(drawing) {
  const { kind, unit, series } = drawing;
  const horizontal = kind === "hbar";
  const dayLabels = kind !== "hbar";
  const most = Math.max(0, ...series.flatMap((one) => one.values.filter((v) => v !== null)));
  const scales = {};
  let datasets;
  if (kind === "combo") { // satisfaction: the mean score (a line, 1-5) and how many ratings (bars)
    // The axes' titles name the two; no name at the line's end, where the second axis is.
    datasets = [{ ...lineDataset(series[0], 1, "y"), directLabel: false }, barDataset(series[1], "count")];
    scales.y = valueAxis("score", { min: 1, max: 5, beginAtZero: false,
      title: { display: true, text: "Mean score (1-5)", color: INK } });
    scales.count = valueAxis("count", { position: "right", grid: { display: false },
      title: { display: true, text: "Ratings", color: INK } });
  } else if (kind === "line") {
    datasets = series.map((one, index) => lineDataset(one, index));
    scales.y = valueAxis(unit, {}, most);
  } else {
    datasets = [barDataset(series[0])];
    scales[horizontal ? "x" : "y"] = valueAxis(unit, {}, most);
  }
  const categories = { grid: { display: false }, ticks: { color: MUTED, autoSkip: true, maxRotation: 0,
    callback(value) {
      const label = this.getLabelForValue(value);
      return dayLabels ? dayWords(label) : label;
    } } };
  scales[horizontal ? "y" : "x"] = categories;
  const several = datasets.length > 1;
  return {
    type: "bar",
    data: { labels: drawing.labels, datasets },
    plugins: kind === "line" ? [directLabels] : [],
    options: {
      indexAxis: horizontal ? "y" : "x",
      responsive: true,
      maintainAspectRatio: false,
      animation: false, // calm, and the same picture every time
      layout: { padding: { right: kind === "line" ? LABEL_ROOM : 16 } },
      scales,
      plugins: {
        legend: { display: several, labels: { usePointStyle: true, color: INK } },
        tooltip: { callbacks: {
          title: (items) => (dayLabels ? dayWords(items[0].label) : items[0].label),
          label: (item) => `${item.dataset.label}: ${valueWords(item.raw,
            kind === "combo" && item.dataset.type === "bar" ? "count" : unit)}`,
        } },
      },
    },
  };
}

function drawAll() {
  const source = document.getElementById("report-drawings");
  if (!source || !window.Chart) return;
  const Chart = window.Chart;
  Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  Chart.defaults.color = INK;
  const drawings = JSON.parse(source.textContent);
  for (const [id, drawing] of Object.entries(drawings)) {
    const canvas = document.getElementById(`canvas-${id}`);
    if (!canvas) continue;
    if (drawing.kind === "hbar") {
      // One bar per operator: the box grows with them, so that every name stays readable.
      canvas.parentElement.style.height = `${Math.max(160, 60 + 28 * drawing.labels.length)}px`;
    }
    new Chart(canvas, configure(drawing));
    canvas.dataset.drawn = "1";
  }
}

drawAll();
