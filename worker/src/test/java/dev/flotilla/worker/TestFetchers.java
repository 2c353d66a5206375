package dev.flotilla.worker;

import dev.flotilla.worker.fetch.DownloadCache;
import dev.flotilla.worker.fetch.Fetcher;
import dev.flotilla.worker.fetch.HubClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

/** Fetchers for tests that read local sources only, or a Hub at a test server. */
public final class TestFetchers {
  private TestFetchers() {}

  /** Reads local sources; a download goes to a closed port and fails at once. */
  public static Fetcher offline() {
    return hub(URI.create("http://127.0.0.1:9"), tempCache());
  }

  /** Downloads hf:// sources from {@code endpoint} into {@code cache}. */
  public static Fetcher hub(URI endpoint, Path cache) {
    return new Fetcher(
        Path.of("/var/lib/flotilla/pvc"),
        new DownloadCache(cache),
        new HubClient(endpoint, Optional.empty(), Duration.ofSeconds(10), 1),
        () -> {
          throw new IllegalStateException("no S3 store in this test");
        });
  }

  private static Path tempCache() {
    try {
      Path dir = Files.createTempDirectory("flotilla-cache");
      dir.toFile().deleteOnExit();
      return dir;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
