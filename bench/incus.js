// Incus benchmarks (written with the Docker backend).
import { skip } from "./lib.js";
export async function benchIncus() {
  skip("incus", "not written yet");
}
