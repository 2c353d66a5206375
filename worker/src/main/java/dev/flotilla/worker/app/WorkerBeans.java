package dev.flotilla.worker.app;

import dev.flotilla.worker.config.WorkerConfig;
import dev.flotilla.worker.config.WorkerSettings;
import dev.flotilla.worker.runtime.WorkerHolder;
import dev.flotilla.worker.service.StatsPublisher;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;

/** The worker's plain-Java parts as CDI beans. */
public class WorkerBeans {

  /** The checked settings; a bad setting fails startup with a message naming it. */
  @Produces
  @Singleton
  WorkerSettings settings(WorkerConfig config) {
    return WorkerSettings.from(config);
  }

  @Produces
  @Singleton
  WorkerHolder holder(WorkerSettings settings) {
    return new WorkerHolder(settings.workerId(), settings.modelName());
  }

  @Produces
  @Singleton
  StatsPublisher stats(WorkerHolder holder) {
    return new StatsPublisher(holder);
  }

  void closeStats(@Disposes StatsPublisher stats) {
    stats.close();
  }
}
