package io.kv2pg;

/** Thread helpers for kv2pg's own threads. */
final class Threads {
  private Threads() {}

  /**
   * Waits for the thread to end even if the caller is interrupted meanwhile (the thread holds
   * native resources the caller is about to release), then restores the caller's interrupt flag.
   */
  static void joinUninterruptibly(Thread thread) {
    boolean interrupted = false;
    while (true) {
      try {
        thread.join();
        break;
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
