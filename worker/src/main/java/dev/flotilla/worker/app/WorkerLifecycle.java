package dev.flotilla.worker.app;

import dev.flotilla.api.worker.v1.WorkerGrpc;
import dev.flotilla.worker.config.WorkerSettings;
import dev.flotilla.worker.fetch.Fetcher;
import dev.flotilla.worker.fetch.FileSet;
import dev.flotilla.worker.fetch.Progress;
import dev.flotilla.worker.runtime.WorkerHolder;
import dev.flotilla.worker.runtime.WorkerRuntime;
import grpc.health.v1.HealthOuterClass.HealthCheckResponse.ServingStatus;
import io.micrometer.core.instrument.MeterRegistry;
import io.quarkus.grpc.runtime.health.GrpcHealthStorage;
import io.quarkus.runtime.Quarkus;
import io.quarkus.runtime.ShutdownEvent;
import io.quarkus.runtime.StartupEvent;
import jakarta.annotation.Priority;
import jakarta.enterprise.context.ApplicationScoped;
import jakarta.enterprise.event.Observes;
import jakarta.inject.Inject;
import java.lang.management.ManagementFactory;
import org.jboss.logging.Logger;

/**
 * Loads the model off the event loop at startup and turns gRPC health SERVING when it is ready; on
 * shutdown (SIGTERM) turns it NOT_SERVING, stops admitting, lets admitted requests finish within
 * the drain grace period, then releases the engine. A model that cannot be loaded ends the process
 * with the reason, so the pod shows it. Once serving it logs one {@code startup timing:} line with
 * wall-clock milliseconds of the JVM's start, Quarkus' start and the model's readiness, which
 * {@code bench/coldstart} reads to split a cold start into its phases.
 */
@ApplicationScoped
public class WorkerLifecycle {
  private static final Logger LOG = Logger.getLogger(WorkerLifecycle.class);

  @Inject WorkerSettings settings;
  @Inject WorkerHolder holder;
  @Inject GrpcHealthStorage health;
  @Inject MeterRegistry registry;
  @Inject Fetcher fetcher;

  void start(@Observes StartupEvent event) {
    long startedMs = System.currentTimeMillis();
    serving(ServingStatus.NOT_SERVING);
    Thread loader = new Thread(() -> load(startedMs), "flotilla-model-loader");
    loader.setDaemon(true);
    loader.start();
  }

  private void load(long startedMs) {
    try {
      WorkerRuntime runtime = WorkerRuntime.start(fetched(), registry);
      synchronized (this) {
        if (holder.state() != WorkerHolder.State.LOADING) { // shut down while loading
          runtime.close();
          return;
        }
        holder.loaded(runtime);
      }
      serving(ServingStatus.SERVING);
      long jvmStartMs = ManagementFactory.getRuntimeMXBean().getStartTime();
      long servingMs = System.currentTimeMillis();
      LOG.infof(
          "startup timing: jvm_start_ms=%d quarkus_started_ms=%d serving_ms=%d (JVM to Quarkus started %d ms, "
              + "model load %d ms)",
          jvmStartMs, startedMs, servingMs, startedMs - jvmStartMs, servingMs - startedMs);
    } catch (Exception | Error e) {
      String reason = e.getClass().getSimpleName() + ": " + e.getMessage();
      holder.failed(reason);
      LOG.errorf(
          "cannot load the model from %s (%s): %s",
          settings.modelDir() == null ? settings.modelSource() : settings.modelDir(),
          WorkerSettings.MODEL_SOURCE,
          reason);
      Quarkus.asyncExit(1);
    }
  }

  /**
   * The settings with the model's directory: a downloaded source is fetched first (resuming what an
   * earlier start left), its progress logged and shown by the readiness check.
   */
  private WorkerSettings fetched() throws InterruptedException {
    if (settings.modelDir() != null) {
      return settings;
    }
    Progress progress =
        new Progress(
            settings.modelSource().toString(),
            line -> {
              holder.progress(line);
              LOG.infof("downloading %s", line);
            });
    var dir = fetcher.fetch(settings.modelSource(), FileSet.MODEL, progress);
    WorkerSettings.checkModelDir(dir);
    LOG.infof("downloaded %s into %s", settings.modelSource(), dir);
    holder.progress("");
    return settings.withModelDir(dir);
  }

  void stop(@Observes @Priority(1) ShutdownEvent event) {
    WorkerRuntime runtime;
    synchronized (this) {
      runtime = holder.runtime().orElse(null);
      holder.draining();
    }
    serving(ServingStatus.NOT_SERVING);
    if (runtime == null) {
      return;
    }
    LOG.infof("draining: admitted requests have %s to finish", settings.drainGrace());
    boolean clean = runtime.drain(settings.drainGrace());
    if (!clean) {
      LOG.warnf(
          "drain grace %s ran out; unfinished requests were failed with UNAVAILABLE",
          settings.drainGrace());
    }
    runtime.close();
  }

  private void serving(ServingStatus status) {
    health.setStatus(GrpcHealthStorage.DEFAULT_SERVICE_NAME, status);
    health.setStatus(WorkerGrpc.SERVICE_NAME, status);
  }
}
