package dev.flotilla.testkit;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The weights of a model directory, whether in one {@code model.safetensors} or sharded behind
 * {@code model.safetensors.index.json}; tensors are looked up by name across all files.
 */
public final class ModelWeights implements AutoCloseable {

  private final Map<String, SafetensorsReader> fileOfTensor;
  private final Map<String, SafetensorsReader> readers;

  private ModelWeights(
      Map<String, SafetensorsReader> fileOfTensor, Map<String, SafetensorsReader> readers) {
    this.fileOfTensor = fileOfTensor;
    this.readers = readers;
  }

  public static ModelWeights open(Path modelDir) throws IOException {
    Path index = modelDir.resolve(ShardLayout.INDEX_FILE);
    Map<String, SafetensorsReader> readers = new LinkedHashMap<>();
    Map<String, SafetensorsReader> fileOfTensor = new LinkedHashMap<>();
    try {
      if (Files.exists(index)) {
        JsonNode weightMap = new ObjectMapper().readTree(index.toFile()).path("weight_map");
        Iterator<Map.Entry<String, JsonNode>> entries = weightMap.fields();
        while (entries.hasNext()) {
          Map.Entry<String, JsonNode> entry = entries.next();
          String file = entry.getValue().asText();
          SafetensorsReader reader = readers.get(file);
          if (reader == null) {
            reader = SafetensorsReader.open(modelDir.resolve(file));
            readers.put(file, reader);
          }
          if (!reader.tensors().containsKey(entry.getKey())) {
            throw new SafetensorsFormatException(
                "index maps " + entry.getKey() + " to " + file + ", which does not contain it");
          }
          fileOfTensor.put(entry.getKey(), reader);
        }
      } else {
        SafetensorsReader reader =
            SafetensorsReader.open(modelDir.resolve(ShardLayout.SINGLE_FILE));
        readers.put(ShardLayout.SINGLE_FILE, reader);
        reader.tensors().keySet().forEach(name -> fileOfTensor.put(name, reader));
      }
    } catch (IOException | RuntimeException e) {
      for (SafetensorsReader reader : readers.values()) {
        reader.close();
      }
      throw e;
    }
    return new ModelWeights(fileOfTensor, readers);
  }

  public Set<String> names() {
    return Collections.unmodifiableSet(fileOfTensor.keySet());
  }

  public boolean contains(String name) {
    return fileOfTensor.containsKey(name);
  }

  public TensorInfo info(String name) {
    return reader(name).info(name);
  }

  public double[] readDoubles(String name) throws IOException {
    return reader(name).readDoubles(name);
  }

  private SafetensorsReader reader(String name) {
    SafetensorsReader reader = fileOfTensor.get(name);
    if (reader == null) {
      throw new IllegalArgumentException("model has no tensor " + name);
    }
    return reader;
  }

  @Override
  public void close() throws IOException {
    for (SafetensorsReader reader : readers.values()) {
      reader.close();
    }
  }
}
