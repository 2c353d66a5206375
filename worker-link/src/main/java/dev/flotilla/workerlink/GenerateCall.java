package dev.flotilla.workerlink;

/** A running Generate call with manual flow control: messages are delivered as requested. */
public interface GenerateCall {
  /** Lets {@code messages} more messages be delivered. */
  void request(int messages);

  void cancel(String reason);
}
