package dev.flotilla.gateway.service;

import dev.flotilla.gateway.usage.UsageEvent;
import java.io.IOException;

/** Where finished requests are billed; the {@code UsageLedger} in production. */
@FunctionalInterface
public interface UsageRecorder {
  void record(UsageEvent event) throws IOException;
}
