// Chart.js with only the pieces the admin page draws, registered by hand so the bundle leaves the
// rest out (the 'chart.js/auto' import would pull in every chart type).
import {
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  Chart,
  DoughnutController,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
} from 'chart.js';

Chart.register(
  ArcElement,
  BarController,
  BarElement,
  CategoryScale,
  DoughnutController,
  Legend,
  LinearScale,
  LineController,
  LineElement,
  PointElement,
  Tooltip,
);

// Axis text dark enough for AA contrast on white; the system font the page uses.
Chart.defaults.color = '#374151';
Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily || 'system-ui, sans-serif';
Chart.defaults.maintainAspectRatio = false;
if (window.matchMedia?.('(prefers-reduced-motion: reduce)').matches) Chart.defaults.animation = false;

export function createChart(canvas, config) {
  return new Chart(canvas, config);
}

const day = (text) => {
  // "2025-05-03" → "May 3", read as a UTC calendar day like the server's series.
  const d = new Date(`${text}T00:00:00Z`);
  return Number.isNaN(d.getTime()) ? String(text) : d.toLocaleDateString('en', { month: 'short', day: 'numeric', timeZone: 'UTC' });
};

export const dayLabel = day;

const grid = { color: '#e5e7eb' };

export function lineConfig(labels, datasets, { yTitle, max } = {}) {
  return {
    type: 'line',
    data: { labels, datasets },
    options: {
      spanGaps: false,
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { grid },
        y: { beginAtZero: true, max, grid, title: yTitle ? { display: true, text: yTitle } : undefined },
      },
      plugins: { legend: { position: 'bottom' } },
    },
  };
}

export function doughnutConfig(labels, values, colors) {
  return {
    type: 'doughnut',
    data: { labels, datasets: [{ data: values, backgroundColor: colors, borderColor: '#ffffff', borderWidth: 2 }] },
    options: { plugins: { legend: { position: 'bottom' } } },
  };
}

export function stackedBarConfig(labels, datasets, { yTitle } = {}) {
  return {
    type: 'bar',
    data: { labels, datasets },
    options: {
      interaction: { mode: 'index', intersect: false },
      scales: {
        x: { stacked: true, grid },
        y: { stacked: true, beginAtZero: true, grid, title: yTitle ? { display: true, text: yTitle } : undefined },
      },
      plugins: { legend: { position: 'bottom' } },
    },
  };
}
