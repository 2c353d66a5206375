package dev.flotilla.worker.engine;

/** No free KV block for the step; nothing changed. Free or preempt sequences and retry. */
public class KvCacheFullException extends EngineException {
  public KvCacheFullException(String message) {
    super(EngineStatus.KV_CACHE_FULL, message);
  }
}
