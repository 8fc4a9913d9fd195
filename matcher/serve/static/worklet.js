// AudioWorklet: copies the microphone's first channel into blocks and posts them to the
// page, which sends them over the WebSocket. Nothing else happens on the audio thread.
class PcmBlocks extends AudioWorkletProcessor {
  constructor(options) {
    super();
    this.size = (options.processorOptions && options.processorOptions.blockSize) || 384;
    this.block = new Float32Array(this.size);
    this.filled = 0;
    this.total = 0;
  }
  process(inputs) {
    const input = inputs[0];
    if (input && input.length) {
      const channel = input[0];
      let i = 0;
      while (i < channel.length) {
        const n = Math.min(channel.length - i, this.size - this.filled);
        this.block.set(channel.subarray(i, i + n), this.filled);
        this.filled += n; i += n;
        if (this.filled === this.size) {
          this.total += this.size;
          this.port.postMessage({ pcm: this.block, end: this.total }, [this.block.buffer]);
          this.block = new Float32Array(this.size);
          this.filled = 0;
        }
      }
    }
    return true;
  }
}
registerProcessor("pcm-blocks", PcmBlocks);
