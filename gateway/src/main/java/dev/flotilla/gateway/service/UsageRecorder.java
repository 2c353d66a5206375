package dev.flotilla.gateway.service;

import dev.flotilla.gateway.usage.UsageEvent;
import java.io.IOException;
import java.util.function.Consumer;

/** Where finished requests are billed; the {@code UsageLedger} in production. */
@FunctionalInterface
public interface UsageRecorder {
  /**
   * Records an event durably without blocking the caller, which may be a transport thread; then
   * calls {@code whenRecorded} with null, or with the exception that kept the event off disk.
   */
  void record(UsageEvent event, Consumer<IOException> whenRecorded);
}
