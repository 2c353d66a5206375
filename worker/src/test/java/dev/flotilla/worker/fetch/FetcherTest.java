package dev.flotilla.worker.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.worker.TestFetchers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LoadAdapter's path: fetches on fetch threads, concurrent requests, a retry after a failure. */
class FetcherTest {
  @TempDir Path cacheDir;

  @Test
  void concurrentFetchesOfOneSourceDownloadItOnceAndAFailureIsNotRemembered() throws Exception {
    try (FakeHub hub = new FakeHub();
        Fetcher fetcher = TestFetchers.hub(hub.endpoint(), cacheDir)) {
      hub.repo = "org/sql";
      hub.files.put("adapter_config.json", "{\"r\": 8}".getBytes(StandardCharsets.UTF_8));
      hub.files.put("adapter_model.safetensors", new byte[200_000]);
      Source source = fetcher.parse("hf://org/sql");

      CompletableFuture<Path> first = fetcher.fetchAsync(source, FileSet.ADAPTER, Progress::silent);
      CompletableFuture<Path> second =
          fetcher.fetchAsync(source, FileSet.ADAPTER, Progress::silent);
      assertThat(first.get(30, TimeUnit.SECONDS)).isEqualTo(second.get(30, TimeUnit.SECONDS));
      assertThat(hub.requests("hub"))
          .filteredOn(r -> r.path().contains("/resolve/"))
          .extracting(FakeHub.Request::path)
          .containsExactlyInAnyOrder(
              "/org/sql/resolve/" + hub.commit + "/adapter_config.json",
              "/org/sql/resolve/" + hub.commit + "/adapter_model.safetensors");

      Source absent = fetcher.parse("hf://org/absent");
      CompletableFuture<Path> failed =
          fetcher.fetchAsync(absent, FileSet.ADAPTER, Progress::silent);
      assertThatThrownBy(() -> failed.get(30, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class)
          .hasCauseInstanceOf(FetchException.class)
          .hasMessageContaining("404 Not Found");
      hub.repo = "org/absent"; // now it exists: the next request tries again
      assertThat(
              fetcher
                  .fetchAsync(absent, FileSet.ADAPTER, Progress::silent)
                  .get(30, TimeUnit.SECONDS))
          .isDirectoryContaining(p -> p.endsWith("adapter_config.json"));
    }
  }
}
