package dev.flotilla.gateway.service;

/**
 * Credit-based flow control of one worker stream: up to {@code size} messages are requested from
 * the worker and not yet received. While the client keeps up, credit is handed back in batches of
 * at least {@code batch}, so the worker hears one request per batch instead of one per token; while
 * the client is not ready no credit is returned, and the worker stream stops after at most {@code
 * size} more messages (the most the gateway buffers for a slow client). Not thread-safe: the caller
 * holds its request's lock.
 */
final class StreamWindow {
  private final int size;
  private final int batch;

  /** Messages requested from the worker and not yet received. */
  private int outstanding;

  /**
   * @param size messages requested ahead, at least 1
   * @param batch smallest credit handed back at once, between 1 and {@code size}
   */
  StreamWindow(int size, int batch) {
    if (size < 1 || batch < 1 || batch > size) {
      throw new IllegalArgumentException(
          "need 1 <= batch <= size, got size " + size + ", batch " + batch);
    }
    this.size = size;
    this.batch = batch;
  }

  /** The credit to open the stream with. */
  int open() {
    outstanding = size;
    return size;
  }

  /**
   * A message arrived.
   *
   * @param clientReady whether the client can take more without buffering
   * @return how many more messages to request now; 0 for none
   */
  int received(boolean clientReady) {
    outstanding = Math.max(0, outstanding - 1);
    return clientReady ? refill() : 0;
  }

  /** The client can take more again: the credit to hand back now; 0 for none. */
  int clientReady() {
    return refill();
  }

  private int refill() {
    int credit = size - outstanding;
    if (credit < batch && outstanding > 0) {
      return 0;
    }
    outstanding = size;
    return credit;
  }
}
