package dev.flotilla.worker.fetch;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.S3Proxy;
import org.jclouds.ContextBuilder;
import org.jclouds.blobstore.BlobStoreContext;
import org.jclouds.blobstore.TransientApiMetadata;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/**
 * s3:// sources against S3Proxy, an S3 server (here on jclouds' in-memory store) on loopback,
 * through the same SDK client and path-style addressing an S3-compatible endpoint gets.
 */
class S3FetcherTest {
  static final String ACCESS = "flotilla-access";
  static final String SECRET = "flotilla-secret";
  static S3Proxy proxy;
  static URI endpoint;
  static final byte[] WEIGHTS = random(300_000, 1);

  @TempDir Path cacheDir;
  final List<String> progress = new ArrayList<>();

  @BeforeAll
  static void startS3() throws Exception {
    BlobStoreContext context =
        // By its metadata, not its name: a lookup by name loads every jclouds provider on the
        // class path, and the cloud ones are left out of the test dependencies.
        ContextBuilder.newBuilder(new TransientApiMetadata())
            .credentials(ACCESS, SECRET)
            .build(BlobStoreContext.class);
    proxy =
        S3Proxy.builder()
            .blobStore(context.getBlobStore())
            .awsAuthentication(AuthenticationType.AWS_V2_OR_V4, ACCESS, SECRET)
            .endpoint(URI.create("http://127.0.0.1:0"))
            .build();
    proxy.start();
    while (!"STARTED".equals(proxy.getState())) {
      Thread.sleep(10);
    }
    endpoint = URI.create("http://127.0.0.1:" + proxy.getPort());
    try (S3Client s3 = client(ACCESS, SECRET)) {
      s3.createBucket(b -> b.bucket("models"));
      put(s3, "team/tiny/config.json", text("{\"hidden_size\": 8}"));
      put(s3, "team/tiny/tokenizer.json", text("{\"model\": {}}"));
      put(s3, "team/tiny/model.safetensors", WEIGHTS);
      put(s3, "team/tiny/README.md", text("# tiny"));
      put(s3, "team/tiny-other/config.json", text("{}"));
      put(s3, "team/no-tokenizer/config.json", text("{}"));
      put(s3, "team/no-tokenizer/model.safetensors", WEIGHTS);
      put(s3, "adapters/sql/adapter_config.json", text("{\"r\": 8}"));
      put(s3, "adapters/sql/adapter_model.safetensors", random(5_000, 2));
    }
  }

  @AfterAll
  static void stopS3() throws Exception {
    proxy.stop();
  }

  static S3Client client(String access, String secret) {
    return S3Client.builder()
        .endpointOverride(URI.create("http://127.0.0.1:" + proxy.getPort()))
        .forcePathStyle(true)
        .region(Region.US_EAST_1)
        .credentialsProvider(
            StaticCredentialsProvider.create(AwsBasicCredentials.create(access, secret)))
        .httpClient(software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient.create())
        // The SDK's default upload checksums (an aws-chunked trailer) are newer than S3Proxy.
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .build();
  }

  static void put(S3Client s3, String key, byte[] body) {
    s3.putObject(b -> b.bucket("models").key(key), RequestBody.fromBytes(body));
  }

  S3Fetcher fetcher(String access, String secret) {
    return S3Fetcher.create(
        Optional.of(endpoint),
        Optional.empty(),
        Duration.ofSeconds(10),
        1,
        StaticCredentialsProvider.create(AwsBasicCredentials.create(access, secret)));
  }

  Path fetch(S3Fetcher fetcher, String source, FileSet set) {
    return fetcher.fetch(
        (Source.S3) Source.parse(source, Path.of("/pvc")),
        set,
        new DownloadCache(cacheDir),
        new Progress(source, progress::add));
  }

  @Test
  void fetchesWhatAModelNeedsAndReusesTheSnapshot() throws Exception {
    try (S3Fetcher s3 = fetcher(ACCESS, SECRET)) {
      Path dir = fetch(s3, "s3://models/team/tiny", FileSet.MODEL);
      assertThat(dir).startsWith(cacheDir.resolve("s3/models"));
      assertThat(dir.resolve("model.safetensors")).hasBinaryContent(WEIGHTS);
      assertThat(dir.resolve("config.json")).hasContent("{\"hidden_size\": 8}");
      assertThat(dir.resolve("tokenizer.json")).exists();
      // Not needed, and not the neighbouring prefix team/tiny-other.
      assertThat(dir.resolve("README.md")).doesNotExist();
      assertThat(progress.get(progress.size() - 1))
          .matches("s3://models/team/tiny: 3/3 files, (.+) of \\1");

      Files.delete(dir.resolve("tokenizer.json")); // the marker, not the files, says complete
      assertThat(fetch(s3, "s3://models/team/tiny/", FileSet.MODEL)).isEqualTo(dir);
    }
  }

  @Test
  void fetchesAnAdapter() {
    try (S3Fetcher s3 = fetcher(ACCESS, SECRET)) {
      Path dir = fetch(s3, "s3://models/adapters/sql", FileSet.ADAPTER);
      assertThat(dir.resolve("adapter_config.json")).hasContent("{\"r\": 8}");
      assertThat(dir.resolve("adapter_model.safetensors")).hasSize(5_000);
    }
  }

  @Test
  void resumesAPartialFileWithARangedGet() throws Exception {
    try (S3Fetcher s3 = fetcher(ACCESS, SECRET)) {
      Path dir = fetch(s3, "s3://models/team/tiny", FileSet.MODEL);
      // The same snapshot as a restart finds it: the weights half written.
      Files.delete(dir.resolve(HubClient.COMPLETE));
      Files.delete(dir.resolve("model.safetensors"));
      Files.write(dir.resolve("model.safetensors.part"), Arrays.copyOf(WEIGHTS, 100_000));
      progress.clear();

      assertThat(fetch(s3, "s3://models/team/tiny", FileSet.MODEL)).isEqualTo(dir);
      assertThat(dir.resolve("model.safetensors")).hasBinaryContent(WEIGHTS);
      assertThat(dir.resolve("model.safetensors.part")).doesNotExist();
    }
  }

  @Test
  void rejectsAFileWhoseMd5DoesNotMatch() throws Exception {
    try (S3Fetcher s3 = fetcher(ACCESS, SECRET)) {
      Path dir = fetch(s3, "s3://models/team/tiny", FileSet.MODEL);
      Files.delete(dir.resolve(HubClient.COMPLETE));
      Files.delete(dir.resolve("model.safetensors"));
      byte[] wrong = Arrays.copyOf(WEIGHTS, 100_000);
      wrong[5] ^= 1; // a part that does not belong to this object
      Files.write(dir.resolve("model.safetensors.part"), wrong);

      assertThatThrownBy(() -> fetch(s3, "s3://models/team/tiny", FileSet.MODEL))
          .isInstanceOf(FetchException.class)
          .hasMessageContaining("model.safetensors: MD5 ")
          .hasMessageContaining("does not match the server's")
          .satisfies(e -> assertThat(((FetchException) e).file()).isEqualTo("model.safetensors"));
      assertThat(dir.resolve("model.safetensors.part")).doesNotExist();
    }
  }

  @Test
  void namesWrongCredentialsAndMissingFiles() {
    try (S3Fetcher s3 = fetcher(ACCESS, "wrong")) {
      assertThatThrownBy(() -> fetch(s3, "s3://models/team/tiny", FileSet.MODEL))
          .isInstanceOf(FetchException.class)
          .hasMessageContaining("s3://models/team/tiny: cannot list the objects: 403")
          .hasMessageContaining("have no access");
    }
    try (S3Fetcher s3 = fetcher(ACCESS, SECRET)) {
      assertThatThrownBy(() -> fetch(s3, "s3://models/team/no-tokenizer", FileSet.MODEL))
          .hasMessage("s3://models/team/no-tokenizer has no tokenizer.json");
      assertThatThrownBy(() -> fetch(s3, "s3://no-such-bucket/x", FileSet.MODEL))
          .hasMessageContaining("cannot list the objects: 404 NoSuchBucket");
    }
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
