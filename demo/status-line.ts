/**
 * The demo's live status line. On a terminal it is redrawn in place, cut to
 * the terminal's width so it never wraps (a wrapped line cannot be rewound
 * with `\r`), and cleared before any other output. Elsewhere (a pipe, a log
 * file) each status is a line of its own.
 */

/** The part of a stream the status line writes to. */
export interface StatusStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

const SEPARATOR = " | ";

export class StatusLine {
  private shown = false;
  private last = "";

  constructor(private readonly out: StatusStream) {}

  /**
   * Shows `parts` joined by " | ", as many of them as fit the width (the
   * first ones matter most), in place of the previous status.
   */
  show(parts: readonly string[]): void {
    if (!this.out.isTTY) {
      this.out.write(`${parts.join(SEPARATOR)}\n`);
      return;
    }
    this.last = fitWidth(parts, this.width());
    this.redraw();
  }

  /** Leaves the current status on screen as a line of its own; the next `show()` starts below it. */
  keep(): void {
    if (!this.shown) return;
    // Redrawn first: the terminal may have echoed `^C` after it.
    this.redraw();
    this.out.write("\n");
    this.shown = false;
  }

  /** Prints `text` on lines of its own; the status comes back with the next `show()`. */
  print(text: string): void {
    this.clear();
    this.out.write(`${text}\n`);
  }

  /** Removes the status line (and whatever the terminal echoed after it, like `^C`). */
  clear(): void {
    if (!this.shown) return;
    this.out.write("\r\x1b[K");
    this.shown = false;
  }

  private redraw(): void {
    this.out.write(`\r${this.last}\x1b[K`);
    this.shown = true;
  }

  private width(): number {
    // Three columns short: writing the last column makes some terminals wrap,
    // and the `^C` a terminal echoes after the line must not wrap either.
    return (this.out.columns || 80) - 3;
  }
}

/** The leading `parts` that fit in `width` columns joined; the first one cut if even it does not. */
export function fitWidth(parts: readonly string[], width: number): string {
  let line = parts[0] ?? "";
  for (const part of parts.slice(1)) {
    const longer = `${line}${SEPARATOR}${part}`;
    if (longer.length > width) break;
    line = longer;
  }
  return line.slice(0, Math.max(0, width));
}
