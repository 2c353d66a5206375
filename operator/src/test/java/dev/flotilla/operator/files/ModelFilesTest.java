package dev.flotilla.operator.files;

import static org.assertj.core.api.Assertions.assertThat;

import dev.flotilla.api.crd.Dtype;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ModelFilesTest {
  @TempDir Path dir;

  /** A safetensors file of the given header entries (name, dtype, shape), its data all zero. */
  private static void write(Path file, String... entries) throws IOException {
    StringBuilder json = new StringBuilder("{");
    long offset = 0;
    for (int i = 0; i < entries.length; i += 3) {
      long elements = 1;
      for (String d : entries[i + 2].split(",")) {
        elements *= Long.parseLong(d);
      }
      long bytes = elements * SafetensorsHeaders.elementBytes(entries[i + 1]);
      json.append(i == 0 ? "" : ",")
          .append('"')
          .append(entries[i])
          .append("\":{\"dtype\":\"")
          .append(entries[i + 1])
          .append("\",\"shape\":[")
          .append(entries[i + 2])
          .append("],\"data_offsets\":[")
          .append(offset)
          .append(',')
          .append(offset + bytes)
          .append("]}");
      offset += bytes;
    }
    byte[] header = json.append('}').toString().getBytes(StandardCharsets.UTF_8);
    ByteBuffer out = ByteBuffer.allocate(8 + header.length + (int) offset);
    out.order(ByteOrder.LITTLE_ENDIAN).putLong(header.length).put(header);
    Files.write(file, out.array());
  }

  @Test
  void fourBitCheckpointsCountTheBytesTheEngineHolds() throws Exception {
    // AWQ q_proj [out 256, in 512]: qweight [512, 32] I32, qzeros [4, 32] I32, scales [4, 256] F16
    write(
        dir.resolve("model.safetensors"),
        "model.layers.0.self_attn.q_proj.qweight",
        "I32",
        "512,32",
        "model.layers.0.self_attn.q_proj.qzeros",
        "I32",
        "4,32",
        "model.layers.0.self_attn.q_proj.scales",
        "F16",
        "4,256",
        "model.layers.0.mlp.down_proj.g_idx",
        "I32",
        "512",
        "model.norm.weight",
        "F16",
        "256");
    // 256 x 512 nibbles = 65536 bytes, packed with scales and zeros into 17/16 of that; g_idx as
    // stored; the norm as stored (no dtype) or as F32
    long packed = 256L * 512 / 2 * 17 / 16;
    assertThat(ModelFiles.weightsBytes(dir, null)).isEqualTo(packed + 512 * 4 + 256 * 2);
    assertThat(ModelFiles.weightsBytes(dir, Dtype.F32)).isEqualTo(packed + 512 * 4 + 256 * 4);
    // the 4-bit weights stay 4-bit whatever dtype the deployment names
    assertThat(ModelFiles.weightsBytes(dir, Dtype.BF16)).isEqualTo(packed + 512 * 4 + 256 * 2);
  }

  @Test
  void aFourBitCheckpointsHeadCountsAsInt8() throws Exception {
    String[] layer = {"model.layers.0.self_attn.q_proj.qweight", "I32", "512,32"};
    long packed = 256L * 512 / 2 * 17 / 16;
    // [vocab 300, hidden 512] as INT8: a byte each, an F32 scale per row, an F16 per 32 columns
    long int8 = 300L * 512 + 300 * 4 + 300L * 16 * 2;
    write(
        dir.resolve("model.safetensors"),
        layer[0],
        layer[1],
        layer[2],
        "model.embed_tokens.weight",
        "F16",
        "300,512",
        "lm_head.weight",
        "F16",
        "300,512");
    assertThat(ModelFiles.weightsBytes(dir, null)).isEqualTo(packed + 300L * 512 * 2 + int8);
    // tied: the embedding is the head
    write(
        dir.resolve("model.safetensors"),
        layer[0],
        layer[1],
        layer[2],
        "model.embed_tokens.weight",
        "F16",
        "300,512");
    assertThat(ModelFiles.weightsBytes(dir, null)).isEqualTo(packed + int8);
    // without 4-bit weights the head stays as stored
    write(dir.resolve("model.safetensors"), "lm_head.weight", "F16", "300,512");
    assertThat(ModelFiles.weightsBytes(dir, null)).isEqualTo(300L * 512 * 2);
  }
}
