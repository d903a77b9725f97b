// A function's CPU flamegraphs: the agent's own interactive HTML page (GET /v1/profiles/FN
// ?format=html, with zoom and search) shown in a sandboxed frame. It is fetched and set as the
// frame's srcdoc because the agent serves it as a download (Content-Disposition: attachment).
import type { ProfilePhase } from '../../agent/profile/model.js';
import { getText, type ProfileSummary, type ProfilesHeld } from './api.js';
import { h, renderIfChanged } from './dom.js';
import { plural } from './format.js';
import { track } from './telemetry.js';

const PHASES: { phase: ProfilePhase; label: string; window: string }[] = [
  { phase: 'cold', label: 'Cold start', window: 'every retained cold start, exec to ready' },
  { phase: 'steady', label: 'Steady state', window: 'warm workers, the last 60 s' },
];

const profileRoute = (fn: string, phase: ProfilePhase): string => `/v1/profiles/${encodeURIComponent(fn)}?phase=${phase}&format=html`;

export class FlamegraphPanel {
  private readonly status = h('p', { class: 'status' });
  private readonly frame = h('iframe', { sandbox: 'allow-scripts', title: 'CPU flamegraph', hidden: '' });
  /** What is shown, so a refresh with the same function keeps the open graph and its zoom. */
  private shownFor: string | undefined;

  constructor(
    private readonly buttons: HTMLElement,
    view: HTMLElement,
  ) {
    view.replaceChildren(this.status, this.frame);
  }

  /** The buttons for `fn`'s profiles as held now; the open graph stays unless the function changed. */
  update(fn: string, held: ProfilesHeld): void {
    if (this.shownFor !== fn) this.close();
    const summaries = PHASES.map(({ phase }) => held.profiles.find((entry) => entry.function === fn && entry.phase === phase));
    renderIfChanged(this.buttons, JSON.stringify([fn, held.profiling, held.reason, summaries]), () => this.buttonsFor(fn, held, summaries));
  }

  private buttonsFor(fn: string, held: ProfilesHeld, summaries: (ProfileSummary | undefined)[]): Node {
    if (!held.profiling) return h('p', { class: 'empty' }, `CPU profiles are off: ${held.reason ?? 'unknown reason'}.`);
    return h(
      'div',
      {},
      ...PHASES.map(({ phase, label, window }, index) => {
        const summary = summaries[index];
        const button = h('button', { type: 'button', 'data-phase': phase, title: window }, `${label} flamegraph`, summary === undefined ? ' (no samples yet)' : ` (${plural(summary.samples, 'sample')}, ${plural(summary.workers, 'worker')})`);
        button.disabled = summary === undefined;
        button.addEventListener('click', () => void this.open(fn, phase, label));
        return h('span', { class: 'profile' }, button, summary === undefined ? null : h('a', { href: profileRoute(fn, phase), download: '' }, 'download HTML'));
      }),
    );
  }

  private async open(fn: string, phase: ProfilePhase, label: string): Promise<void> {
    this.shownFor = fn;
    this.status.textContent = `Loading the ${label.toLowerCase()} flamegraph of ${fn}…`;
    try {
      this.frame.srcdoc = await getText(profileRoute(fn, phase));
      this.frame.hidden = false;
      this.status.textContent = `${label} flamegraph of ${fn}: click a frame to zoom in, type to search.`;
      track('flamegraph_opened', { function: fn, phase });
    } catch (error) {
      this.frame.hidden = true;
      this.status.textContent = (error as Error).message;
    }
  }

  private close(): void {
    this.shownFor = undefined;
    this.frame.hidden = true;
    this.frame.removeAttribute('srcdoc');
    this.status.textContent = '';
  }
}
