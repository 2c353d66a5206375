package dev.flotilla.gateway.service;

/** An admitted request as its transport sees it: the client's side of flow control and exit. */
public interface RunningRequest {
  /**
   * The client went away or its deadline passed: withdraw the request or cancel its worker call.
   * The usage event records CANCELLED or DEADLINE_EXCEEDED; the sink hears nothing more.
   */
  void clientCancelled(boolean deadlineExceeded);

  /** The client can take more output: resume a worker stream paused for flow control. */
  void onClientReady();
}
