/** A page renders into `main` and may return a cleanup (timers, players) run when the user leaves it. */
export type Cleanup = (() => void) | void;
export type Page = (
  main: HTMLElement,
  params: Record<string, string>,
  query: URLSearchParams,
) => Cleanup | Promise<Cleanup>;

let rerender: () => void = () => undefined;

export function onRerender(handler: () => void): void {
  rerender = handler;
}

/** Go to a page (`#/library`); going to the page already shown renders it again. */
export function go(hash: string): void {
  if (location.hash === hash) rerender();
  else location.hash = hash;
}

/** A short message carried to the next page (e.g. "Video deleted." after a delete). */
let flashMessage: string | null = null;
export function flash(message: string): void {
  flashMessage = message;
}
export function takeFlash(): string | null {
  const m = flashMessage;
  flashMessage = null;
  return m;
}
