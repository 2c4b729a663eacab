// Charts with uPlot (bundled from npm): daily requests as bars, latency percentiles as lines.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

export interface Series {
  label: string;
  values: (number | null)[];
  color: string;
  bars?: boolean;
}

/** A time-series chart (x: days as Unix seconds) that follows its container's width; half a day of room
 * on each side, so the first and last day's bars are drawn whole. */
export function timeChart(host: HTMLElement, title: string, xs: number[], series: Series[], unit: string): () => void {
  const width = () => Math.max(260, host.clientWidth || 600);
  const bars = uPlot.paths.bars!({ size: [0.6, 48] });
  const chart = new uPlot(
    {
      title,
      width: width(),
      height: 220,
      scales: { x: { time: true, range: (_u, min, max) => [min - 43_200, max + 43_200] }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
      axes: [{}, { label: unit, size: 60 }],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          fill: s.bars ? `${s.color}99` : undefined,
          width: s.bars ? 0 : 2,
          paths: s.bars ? bars : undefined,
          points: { show: !s.bars && xs.length < 40 },
        })),
      ],
    },
    [xs, ...series.map((s) => s.values)] as uPlot.AlignedData,
    host,
  );
  const observer = new ResizeObserver(() => chart.setSize({ width: width(), height: 220 }));
  observer.observe(host);
  return () => {
    observer.disconnect();
    chart.destroy();
  };
}
