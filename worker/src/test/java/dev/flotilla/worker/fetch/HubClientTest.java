package dev.flotilla.worker.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** hf:// sources against a Hub on loopback that serves the real Hub's paths and headers. */
class HubClientTest {
  @TempDir Path cacheDir;
  FakeHub hub;
  DownloadCache cache;
  final List<String> progress = new ArrayList<>();

  @BeforeEach
  void start() throws Exception {
    hub = new FakeHub();
    cache = new DownloadCache(cacheDir);
    hub.files.put("README.md", text("# tiny"));
    hub.files.put("config.json", text("{\"hidden_size\": 8}"));
    hub.files.put("tokenizer.json", text("{\"model\": {}}"));
    hub.files.put(
        "model.safetensors.index.json",
        text(
            "{\"weight_map\": {\"a\": \"model-00001-of-00002.safetensors\","
                + " \"b\": \"model-00002-of-00002.safetensors\"}}"));
    hub.files.put("model-00001-of-00002.safetensors", random(300_000, 1));
    hub.files.put("model-00002-of-00002.safetensors", random(200_000, 2));
    hub.files.put("consolidated.safetensors", random(500_000, 3));
    hub.files.put("original/params.json", text("{}"));
  }

  @AfterEach
  void stop() {
    hub.close();
  }

  HubClient client(Optional<String> token, int attempts) {
    return new HubClient(hub.endpoint(), token, Duration.ofSeconds(10), attempts);
  }

  Path fetch(HubClient client, String source, FileSet set) throws Exception {
    return client.fetch(
        (Source.Hub) Source.parse(source, Path.of("/pvc")),
        set,
        cache,
        new Progress(source, progress::add));
  }

  @Test
  void fetchesWhatAModelNeedsIntoASnapshotKeyedByCommit() throws Exception {
    Path dir = fetch(client(Optional.empty(), 1), "hf://org/tiny", FileSet.MODEL);

    assertThat(dir).isEqualTo(cacheDir.resolve("hf/models--org--tiny/snapshots/" + hub.commit));
    for (String f :
        List.of(
            "config.json",
            "tokenizer.json",
            "model.safetensors.index.json",
            "model-00001-of-00002.safetensors",
            "model-00002-of-00002.safetensors")) {
      assertThat(dir.resolve(f)).hasBinaryContent(hub.files.get(f));
    }
    // Not needed: documentation, a subdirectory, and weights the index does not name.
    assertThat(dir.resolve("README.md")).doesNotExist();
    assertThat(dir.resolve("original")).doesNotExist();
    assertThat(dir.resolve("consolidated.safetensors")).doesNotExist();
    assertThat(hub.requests("store")).noneMatch(r -> r.path().contains("consolidated"));
    assertThat(progress.get(progress.size() - 1)).matches("hf://org/tiny: 5/5 files, (.+) of \\1");

    // The snapshot is reused: only the revision lookup goes out again.
    int before = hub.requests.size();
    assertThat(fetch(client(Optional.empty(), 1), "hf://org/tiny@main", FileSet.MODEL))
        .isEqualTo(dir);
    assertThat(hub.requests.subList(before, hub.requests.size()))
        .extracting(FakeHub.Request::path)
        .containsExactly("/api/models/org/tiny/revision/main");

    // With the Hub gone, the revision's cached snapshot still serves.
    hub.stop();
    assertThat(fetch(client(Optional.empty(), 1), "hf://org/tiny@main", FileSet.MODEL))
        .isEqualTo(dir);
  }

  @Test
  void fetchesOnlyTheAdapterFilesOfAnAdapter() throws Exception {
    hub.files.clear();
    hub.files.put("adapter_config.json", text("{\"r\": 8}"));
    hub.files.put("adapter_model.safetensors", random(10_000, 4));
    hub.files.put("tokenizer.json", text("{}"));
    Path dir = fetch(client(Optional.empty(), 1), "hf://org/tiny@" + hub.commit, FileSet.ADAPTER);
    try (var list = Files.list(dir)) {
      assertThat(list.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder(
              "adapter_config.json", "adapter_model.safetensors", HubClient.COMPLETE);
    }
  }

  @Test
  void resumesABrokenDownloadWithARangeRequest() throws Exception {
    hub.cutAfter = 120_000;
    String file = "model-00001-of-00002.safetensors";
    Path part =
        cacheDir.resolve("hf/models--org--tiny/snapshots/" + hub.commit + "/" + file + ".part");

    FetchException broken =
        catchThrowableOfType(
            FetchException.class,
            () -> fetch(client(Optional.empty(), 1), "hf://org/tiny", FileSet.MODEL));
    assertThat(broken.file()).isEqualTo(file);
    assertThat(broken)
        .hasMessageStartingWith(
            "hf://org/tiny@main: " + file + ": the download from http://127.0.0.1")
        .hasMessageContaining("broke off")
        .hasMessageContaining(
            // What arrived before the cut (the server sent 120000; the socket may drop a tail).
            Files.size(part) + " bytes are kept in " + file + ".part");
    long kept = Files.size(part);
    assertThat(kept).isPositive().isLessThan(hub.files.get(file).length);

    // A restart picks up where the part ends.
    Path dir = fetch(client(Optional.empty(), 1), "hf://org/tiny", FileSet.MODEL);
    assertThat(dir.resolve(file)).hasBinaryContent(hub.files.get(file));
    assertThat(part).doesNotExist();
    assertThat(hub.requests("store"))
        .filteredOn(r -> r.path().endsWith(file))
        .extracting(FakeHub.Request::range)
        .containsExactly(null, "bytes=" + kept + "-");
  }

  @Test
  void retriesWithinOneFetchFromWhereTheLastAttemptStopped() throws Exception {
    hub.cutAfter = 50_000;
    Path dir = fetch(client(Optional.empty(), 2), "hf://org/tiny", FileSet.MODEL);
    assertThat(dir.resolve("model-00001-of-00002.safetensors"))
        .hasBinaryContent(hub.files.get("model-00001-of-00002.safetensors"));
    // The bytes of the broken attempt are not counted twice.
    assertThat(progress.get(progress.size() - 1)).matches("hf://org/tiny: 5/5 files, (.+) of \\1");
  }

  @Test
  void rejectsAFileWhoseHashDoesNotMatchAndKeepsNothingOfIt() throws Exception {
    String file = "model-00002-of-00002.safetensors";
    hub.corrupt.put(file, random(200_000, 99));
    assertThatThrownBy(() -> fetch(client(Optional.empty(), 3), "hf://org/tiny", FileSet.MODEL))
        .isInstanceOf(FetchException.class)
        .hasMessageContaining(file + ": SHA-256 ")
        .hasMessageContaining("does not match the server's " + FakeHub.sha256(hub.files.get(file)))
        .hasMessageContaining("the partial file was removed");
    Path snapshot = cacheDir.resolve("hf/models--org--tiny/snapshots/" + hub.commit);
    assertThat(snapshot.resolve(file)).doesNotExist();
    assertThat(snapshot.resolve(file + ".part")).doesNotExist();
    assertThat(snapshot.resolve(HubClient.COMPLETE)).doesNotExist();
  }

  @Test
  void aPrivateRepositoryNeedsTheTokenWhichStaysOnTheHub() throws Exception {
    hub.token = "hf_secret";
    assertThatThrownBy(() -> fetch(client(Optional.empty(), 1), "hf://org/tiny", FileSet.MODEL))
        .isInstanceOf(FetchException.class)
        .hasMessageContaining("hf://org/tiny@main: the revision lookup failed: 401 Unauthorized")
        .hasMessageContaining("no HF_TOKEN is set");
    assertThatThrownBy(
            () -> fetch(client(Optional.of("hf_wrong"), 1), "hf://org/tiny", FileSet.MODEL))
        .hasMessageContaining("401 Unauthorized: the HF_TOKEN given was not accepted");

    Path dir = fetch(client(Optional.of("hf_secret"), 1), "hf://org/tiny", FileSet.MODEL);
    assertThat(dir.resolve("config.json")).exists();
    assertThat(hub.requests("hub"))
        .filteredOn(r -> r.path().contains("/resolve/"))
        .isNotEmpty()
        .allMatch(r -> "Bearer hf_secret".equals(r.authorization()));
    // The file store is another host: the token does not go there.
    assertThat(hub.requests("store")).isNotEmpty().allMatch(r -> r.authorization() == null);
  }

  @Test
  void namesTheFileThatIsMissing() throws Exception {
    hub.files.remove("tokenizer.json");
    assertThatThrownBy(() -> fetch(client(Optional.empty(), 1), "hf://org/tiny", FileSet.MODEL))
        .isInstanceOf(FetchException.class)
        .hasMessage("hf://org/tiny@main has no tokenizer.json");

    hub.files.put("tokenizer.json", text("{}"));
    hub.missing.add("model-00002-of-00002.safetensors"); // listed, but not served
    assertThatThrownBy(() -> fetch(client(Optional.empty(), 1), "hf://org/tiny", FileSet.MODEL))
        .hasMessageContaining(
            "model-00002-of-00002.safetensors: 404 Not Found at http://127.0.0.1");

    assertThatThrownBy(() -> fetch(client(Optional.empty(), 1), "hf://org/other", FileSet.MODEL))
        .hasMessageContaining("404 Not Found: no such repository, or no revision main");
  }

  private static byte[] text(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] random(int n, long seed) {
    byte[] b = new byte[n];
    new Random(seed).nextBytes(b);
    return b;
  }
}
