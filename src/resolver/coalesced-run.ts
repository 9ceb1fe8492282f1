// A job that must run again when asked while it runs (a ref moved during a fetch or a snapshot
// read), but not once per ask: asks during a run make one more run after it, however many.
export class CoalescedRun {
  private running: Promise<void> | null = null;
  private again = false;

  constructor(
    private readonly once: () => Promise<void>,
    /** Checked before each further run: a stopped owner runs no more. */
    private readonly stopped: () => boolean,
    /** Called when a run and the ones asked during it are over. */
    private readonly settled: () => void = () => {},
  ) {}

  /** Runs now, or once more after the run under way; resolves when neither is left. */
  run(): Promise<void> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      do {
        this.again = false;
        await this.once();
      } while (this.again && !this.stopped());
    })().finally(() => {
      this.running = null;
      this.settled();
    });
    return this.running;
  }

  /** Resolves when no run is under way or asked for. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }
}
