package dev.flotilla.gateway.usage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.flotilla.gateway.TestLogs;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class UsageSpoolTest {
  @TempDir Path dir;

  @BeforeAll
  static void quiet() {
    TestLogs.quiet(UsageSpool.class.getName());
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static List<String> texts(List<UsageSpool.Entry> entries) {
    return entries.stream().map(e -> new String(e.payload(), StandardCharsets.UTF_8)).toList();
  }

  private List<Path> segmentFiles() throws IOException {
    try (Stream<Path> s = Files.list(dir)) {
      return s.filter(p -> p.getFileName().toString().startsWith("segment-")).sorted().toList();
    }
  }

  @Test
  void appendsReadsInOrderAndSurvivesReopen() throws IOException {
    try (UsageSpool spool = UsageSpool.open(dir, 1 << 20)) {
      assertThat(spool.append(bytes("a"))).isZero();
      assertThat(spool.append(bytes("b"))).isEqualTo(1);
      assertThat(spool.append(bytes("c"))).isEqualTo(2);
      assertThat(texts(spool.read(0, 10))).containsExactly("a", "b", "c");
      assertThat(texts(spool.read(1, 1))).containsExactly("b");
      spool.commit(1);
    }
    try (UsageSpool spool = UsageSpool.open(dir, 1 << 20)) {
      assertThat(spool.committedOffset()).isEqualTo(1);
      assertThat(spool.depth()).isEqualTo(2);
      assertThat(spool.read(0, 10)).extracting(UsageSpool.Entry::offset).containsExactly(1L, 2L);
      assertThat(spool.append(bytes("d"))).isEqualTo(3);
      assertThat(texts(spool.read(1, 10))).containsExactly("b", "c", "d");
    }
  }

  @Test
  void rollsSegmentsAndDeletesThemOnceCommitted() throws IOException {
    try (UsageSpool spool = UsageSpool.open(dir, 64)) {
      for (int i = 0; i < 20; i++) {
        spool.append(bytes("record-" + i + "-padding-padding"));
      }
      int before = segmentFiles().size();
      assertThat(before).isGreaterThan(5);
      List<UsageSpool.Entry> all = spool.read(0, 100);
      assertThat(all).hasSize(20);
      assertThat(texts(all).get(19)).isEqualTo("record-19-padding-padding");
      spool.commit(18);
      assertThat(segmentFiles().size()).isLessThan(before);
      assertThat(texts(spool.read(0, 100)))
          .containsExactly("record-18-padding-padding", "record-19-padding-padding");
      spool.commit(20);
      assertThat(spool.depth()).isZero();
    }
    try (UsageSpool spool = UsageSpool.open(dir, 64)) {
      assertThat(spool.depth()).isZero();
      assertThat(spool.read(0, 100)).isEmpty();
      assertThat(spool.append(bytes("next"))).isEqualTo(20);
    }
  }

  @Test
  void tornTailRecordIsTruncatedOnOpen() throws IOException {
    try (UsageSpool spool = UsageSpool.open(dir, 1 << 20)) {
      spool.append(bytes("one"));
      spool.append(bytes("two"));
      spool.append(bytes("three"));
    }
    Path segment = segmentFiles().get(0);
    long intact = Files.size(segment);
    // A crash mid-write: a header that promises 100 bytes followed by only 10 of them.
    try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.APPEND)) {
      ch.write(ByteBuffer.allocate(8 + 10).putInt(100).putInt(12345).rewind());
    }
    try (UsageSpool spool = UsageSpool.open(dir, 1 << 20)) {
      assertThat(spool.truncatedBytesOnOpen()).isEqualTo(18);
      assertThat(Files.size(segment)).isEqualTo(intact);
      assertThat(texts(spool.read(0, 10))).containsExactly("one", "two", "three");
      assertThat(spool.append(bytes("four"))).isEqualTo(3);
      assertThat(texts(spool.read(0, 10))).containsExactly("one", "two", "three", "four");
    }
  }

  @Test
  void recordWithBadCrcAndEverythingAfterItIsDropped() throws IOException {
    try (UsageSpool spool = UsageSpool.open(dir, 1 << 20)) {
      spool.append(bytes("good"));
      spool.append(bytes("flipped"));
    }
    Path segment = segmentFiles().get(0);
    try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.WRITE)) {
      // Second record starts at 8 + 4; flip its first payload byte.
      ch.write(ByteBuffer.wrap(new byte[] {'F'}), 12 + 8);
    }
    try (UsageSpool spool = UsageSpool.open(dir, 1 << 20)) {
      assertThat(texts(spool.read(0, 10))).containsExactly("good");
      assertThat(spool.nextOffset()).isEqualTo(1);
    }
  }

  @Test
  void headerCutShortAndGarbageLengthDoNotBreakStartup() throws IOException {
    try (UsageSpool spool = UsageSpool.open(dir, 1 << 20)) {
      spool.append(bytes("kept"));
    }
    Path segment = segmentFiles().get(0);
    try (FileChannel ch = FileChannel.open(segment, StandardOpenOption.APPEND)) {
      ch.write(ByteBuffer.wrap(new byte[] {-1, -1, -1, -1, 0, 0})); // negative length, short header
    }
    try (UsageSpool spool = UsageSpool.open(dir, 1 << 20)) {
      assertThat(texts(spool.read(0, 10))).containsExactly("kept");
    }
  }

  @Test
  void appendAllWritesInOrderAcrossSegmentsAndMakesEveryRecordDurable() throws IOException {
    try (UsageSpool spool = UsageSpool.open(dir, 64)) {
      spool.append(bytes("first"));
      List<byte[]> batch =
          java.util.stream.IntStream.range(0, 20).mapToObj(i -> bytes("record-" + i)).toList();
      spool.appendAll(batch);
      assertThat(spool.durableOffset()).isEqualTo(21);
      spool.appendAll(List.of());
      assertThat(spool.nextOffset()).isEqualTo(21);
    }
    assertThat(segmentFiles()).hasSizeGreaterThan(1);
    try (UsageSpool reopened = UsageSpool.open(dir, 64)) {
      List<String> all = texts(reopened.read(0, 100));
      assertThat(all).hasSize(21).startsWith("first", "record-0").endsWith("record-19");
    }
  }

  @Test
  void concurrentAppendersGetDistinctDurableOffsets() throws Exception {
    try (UsageSpool spool = UsageSpool.open(dir, 4096)) {
      Thread[] threads = new Thread[4];
      for (int t = 0; t < threads.length; t++) {
        int id = t;
        threads[t] =
            new Thread(
                () -> {
                  for (int i = 0; i < 50; i++) {
                    try {
                      spool.append(bytes(id + ":" + i));
                    } catch (IOException e) {
                      throw new IllegalStateException(e);
                    }
                  }
                });
        threads[t].start();
      }
      for (Thread t : threads) {
        t.join();
      }
      List<String> all = texts(spool.read(0, 1000));
      assertThat(all).hasSize(200).doesNotHaveDuplicates();
      for (int t = 0; t < 4; t++) {
        String prefix = t + ":";
        List<String> own = all.stream().filter(s -> s.startsWith(prefix)).toList();
        assertThat(own)
            .containsExactlyElementsOf(
                java.util.stream.IntStream.range(0, 50).mapToObj(i -> prefix + i).toList());
      }
      assertThat(spool.durableOffset()).isEqualTo(200);
    }
  }

  @Test
  void aLengthChangedOnDiskAfterOpenIsAnErrorNotAHugeAllocation() throws IOException {
    try (UsageSpool spool = UsageSpool.open(dir, 1 << 20)) {
      spool.append(bytes("one"));
      spool.append(bytes("two"));
      try (FileChannel ch = FileChannel.open(segmentFiles().get(0), StandardOpenOption.WRITE)) {
        ch.write(ByteBuffer.allocate(4).putInt(Integer.MAX_VALUE - 8).rewind(), 8 + 3);
      }
      assertThatThrownBy(() -> spool.read(0, 10))
          .isInstanceOf(IOException.class)
          .hasMessageContaining("record 1 changed on disk")
          .hasMessageContaining("length of " + (Integer.MAX_VALUE - 8));
      assertThatThrownBy(() -> spool.read(1, 10)).isInstanceOf(IOException.class);
    }
  }

  @Test
  void anAppendPastTheSizeLimitFailsWholeAndTheSpoolTakesMoreOnceTrimmed() throws IOException {
    byte[] record = new byte[92]; // 100 bytes with its header
    List<String> logged = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.logging.Logger log = java.util.logging.Logger.getLogger(UsageSpool.class.getName());
    java.util.logging.Handler capture =
        new java.util.logging.Handler() {
          @Override
          public void publish(java.util.logging.LogRecord r) {
            logged.add(r.getLevel() + " " + r.getMessage());
          }

          @Override
          public void flush() {}

          @Override
          public void close() {}
        };
    log.setLevel(java.util.logging.Level.WARNING);
    log.setUseParentHandlers(false);
    log.addHandler(capture);
    try (UsageSpool spool = UsageSpool.open(dir, 300, 1000)) {
      for (int i = 0; i < 7; i++) {
        spool.append(record);
      }
      assertThat(logged).isEmpty();
      spool.append(record);
      assertThat(logged).singleElement().asString().startsWith("WARN").contains("% full");
      spool.appendAll(List.of(record, record));
      assertThat(spool.bytes()).isEqualTo(1000);
      assertThatThrownBy(() -> spool.appendAll(List.of(new byte[1])))
          .isInstanceOf(UsageSpool.SpoolFullException.class)
          .hasMessageContaining("1000 of 1000 bytes");
      assertThat(logged).hasSize(2).last().asString().startsWith("ERROR").contains("is full");
      assertThat(spool.nextOffset()).isEqualTo(10);
      assertThat(spool.durableOffset()).isEqualTo(10);
      spool.commit(6); // frees the first two segments (three records each)
      assertThat(spool.bytes()).isEqualTo(400);
      spool.appendAll(List.of(record, record, record));
      assertThat(spool.read(0, 100))
          .extracting(UsageSpool.Entry::offset)
          .containsExactly(6L, 7L, 8L, 9L, 10L, 11L, 12L);
    } finally {
      log.removeHandler(capture);
      log.setUseParentHandlers(true);
      log.setLevel(java.util.logging.Level.SEVERE);
    }
  }

  @Test
  void claimsOfOneVolumeAreDistinctAndAFreedOneIsAdoptedWithItsRecords() throws IOException {
    SpoolDirectory volume = new SpoolDirectory(dir);
    Files.createDirectories(dir.resolve("lost+found"));
    SpoolDirectory.Claim first = volume.claim("gateway-a");
    assertThat(first.dir().getFileName()).hasToString("spool-0");
    assertThat(dir.resolve("lost+found/" + SpoolDirectory.LOCK_FILE)).doesNotExist();
    try (SpoolDirectory.Claim second = volume.claim("gateway-b")) {
      assertThat(second.dir()).isNotEqualTo(first.dir());
      assertThat(second.dir().getFileName().toString()).isEqualTo("spool-1");
      try (UsageSpool spool = UsageSpool.open(first.dir(), 1 << 20)) {
        spool.append(bytes("left behind"));
      }
      assertThat(volume.claimOrphans(second.dir(), "gateway-b")).isEmpty();
      first.close(); // gateway-a is gone
      try (SpoolDirectory.Claim successor = volume.claim("gateway-c");
          UsageSpool spool = UsageSpool.open(successor.dir(), 1 << 20)) {
        assertThat(successor.dir()).isEqualTo(first.dir());
        assertThat(texts(spool.read(0, 10))).containsExactly("left behind");
        assertThat(Files.readString(successor.dir().resolve(SpoolDirectory.LOCK_FILE)))
            .isEqualTo("gateway-c\n");
      }
      List<SpoolDirectory.Claim> orphans = volume.claimOrphans(second.dir(), "gateway-b");
      assertThat(orphans).extracting(SpoolDirectory.Claim::dir).containsExactly(first.dir());
      for (SpoolDirectory.Claim c : orphans) {
        c.close();
      }
    }
  }
}
