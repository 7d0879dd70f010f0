/**
 * Composing text from handwritten characters, as a handwriting input method does: the candidates of the latest
 * recognition as buttons (`data-label`, `data-probability`, numbered 1-9 and 0 for the tenth), a text field the
 * chosen characters are appended to (and that the user can also edit), and a Copy button.
 *
 * The composer only picks and edits text; the page (main.ts) clears the pad after a pick, through the `pick` event.
 */
import { formatProbability } from '../../src/core/probabilityText.ts';
import type { ClassProbability } from '../../src/core/recognizer.ts';

/** Elements the composer owns (all present in index.html). */
export interface ComposerElements {
  /** `<ol data-testid="candidates">`: one `<li><button>` per candidate. */
  candidates: HTMLOListElement;
  /** `<textarea data-testid="text">`: the composed text. */
  text: HTMLTextAreaElement;
  copy: HTMLButtonElement;
  /** `aria-live` region that says what was picked, copied or deleted. */
  announcer: HTMLElement;
}

/** Most candidates shown: the number keys 1-9 and 0 pick them. */
export const MAX_CANDIDATES = 10;

/**
 * Candidate buttons, the composed text and Copy.
 *
 * Events (an `EventTarget`): `pick` (a `CustomEvent<string>`, the character) after a candidate was appended.
 */
export class Composer extends EventTarget {
  private readonly elements: ComposerElements;
  private shown: ClassProbability[] = [];

  constructor(elements: ComposerElements) {
    super();
    this.elements = elements;
    elements.candidates.addEventListener('click', (event) => {
      const button = (event.target as HTMLElement).closest<HTMLButtonElement>('button[data-index]');
      if (button) this.pick(Number(button.dataset.index));
    });
    elements.copy.addEventListener('click', () => void this.copy());
    this.showCandidates([]);
  }

  /** The composed text (what the text field holds). */
  get text(): string {
    return this.elements.text.value;
  }

  /** Shows up to 10 candidates, most probable first; an empty list leaves ten empty, disabled slots (nothing moves). */
  showCandidates(candidates: readonly ClassProbability[]): void {
    this.shown = candidates.slice(0, MAX_CANDIDATES);
    const items = Array.from({ length: MAX_CANDIDATES }, (_, index) => {
      const item = document.createElement('li');
      const button = document.createElement('button');
      button.type = 'button';
      button.className = 'candidate';
      const key = String((index + 1) % 10);
      const candidate = this.shown[index];
      if (candidate) {
        button.dataset.index = String(index);
        button.dataset.label = candidate.label;
        button.dataset.probability = candidate.probability.toFixed(6);
        button.setAttribute('aria-keyshortcuts', key);
        button.setAttribute('aria-label', `${candidate.label}, ${formatProbability(candidate.probability, 1)}, key ${key}`);
        button.innerHTML = '<span class="candidate-key"></span><span class="candidate-label" lang="zh-Hans"></span>';
        button.querySelector('.candidate-key')!.textContent = key;
        button.querySelector('.candidate-label')!.textContent = candidate.label;
        if (index === 0) button.classList.add('top');
      } else {
        button.disabled = true;
        button.setAttribute('aria-hidden', 'true');
        button.tabIndex = -1;
      }
      item.append(button);
      return item;
    });
    this.elements.candidates.replaceChildren(...items);
    this.elements.candidates.dataset.count = String(this.shown.length);
  }

  /**
   * Appends candidate `index` (0 = the first, 9 = the tenth) to the text and fires `pick`.
   * @returns false when there is no such candidate.
   */
  pick(index: number): boolean {
    const candidate = this.shown[index];
    if (!candidate) return false;
    this.insert(candidate.label);
    this.elements.announcer.textContent = `Wrote ${candidate.label}.`;
    this.dispatchEvent(new CustomEvent<string>('pick', { detail: candidate.label }));
    return true;
  }

  /** Deletes the last character of the text (a whole character, also outside the BMP). Returns false when empty. */
  deleteLast(): boolean {
    const characters = Array.from(this.elements.text.value);
    const removed = characters.pop();
    if (removed === undefined) return false;
    this.elements.text.value = characters.join('');
    this.elements.announcer.textContent = `Deleted ${removed}.`;
    return true;
  }

  /**
   * Copies the text to the clipboard: `navigator.clipboard` where the page may use it, else the text field's
   * selection and `document.execCommand('copy')` (plain-HTTP pages, older browsers). Says whether it worked.
   */
  async copy(): Promise<boolean> {
    const { text, copy, announcer } = this.elements;
    let copied = false;
    try {
      await navigator.clipboard.writeText(text.value);
      copied = true;
    } catch {
      text.select();
      try {
        copied = document.execCommand('copy');
      } catch {
        copied = false;
      }
    }
    const message = copied ? 'Copied' : 'Copy failed: select the text and copy it by hand';
    copy.dataset.state = copied ? 'copied' : 'failed';
    announcer.textContent = copied ? `Copied ${Array.from(text.value).length} characters.` : message;
    setTimeout(() => delete copy.dataset.state, 1500);
    return copied;
  }

  /** Appends `characters` to the end of the text, the field scrolled to show them. */
  private insert(characters: string): void {
    const { text } = this.elements;
    text.value += characters;
    text.scrollTop = text.scrollHeight;
  }
}
