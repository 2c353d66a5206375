package dev.flotilla.worker.app;

import dev.flotilla.worker.config.SourceConfig;
import dev.flotilla.worker.config.WorkerConfig;
import dev.flotilla.worker.config.WorkerConfigException;
import dev.flotilla.worker.config.WorkerSettings;
import dev.flotilla.worker.fetch.DownloadCache;
import dev.flotilla.worker.fetch.Fetcher;
import dev.flotilla.worker.fetch.HubClient;
import dev.flotilla.worker.fetch.S3Fetcher;
import dev.flotilla.worker.runtime.WorkerHolder;
import dev.flotilla.worker.service.StatsPublisher;
import jakarta.enterprise.inject.Disposes;
import jakarta.enterprise.inject.Produces;
import jakarta.inject.Singleton;
import java.net.URI;
import java.nio.file.Path;

/** The worker's plain-Java parts as CDI beans. */
public class WorkerBeans {

  /** The checked settings; a bad setting fails startup with a message naming it. */
  @Produces
  @Singleton
  WorkerSettings settings(WorkerConfig config, SourceConfig sources) {
    return WorkerSettings.from(config, Path.of(sources.pvcRoot()));
  }

  /** Reads local sources and downloads hf:// and s3:// ones into the cache directory. */
  @Produces
  @Singleton
  Fetcher fetcher(SourceConfig sources) {
    URI hub = uri(sources.hubEndpoint(), "HF_ENDPOINT (flotilla.worker.sources.hub-endpoint)");
    java.util.Optional<URI> s3 =
        sources
            .s3Endpoint()
            .filter(s -> !s.isBlank())
            .map(s -> uri(s, "AWS_ENDPOINT_URL_S3 (flotilla.worker.sources.s3-endpoint)"));
    return new Fetcher(
        Path.of(sources.pvcRoot()),
        new DownloadCache(Path.of(sources.cacheDir())),
        new HubClient(hub, sources.hubToken(), sources.stallTimeout(), sources.attempts()),
        () -> S3Fetcher.create(s3, sources.s3Region(), sources.stallTimeout(), sources.attempts()));
  }

  void closeFetcher(@Disposes Fetcher fetcher) {
    fetcher.close();
  }

  private static URI uri(String value, String setting) {
    try {
      URI uri = URI.create(value.trim());
      if (uri.getScheme() == null || uri.getHost() == null) {
        throw new IllegalArgumentException("no scheme or host");
      }
      return uri;
    } catch (IllegalArgumentException e) {
      throw new WorkerConfigException(
          setting + " must be an http(s) URL, got '" + value + "': " + e.getMessage(), e);
    }
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
