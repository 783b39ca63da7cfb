/**
 * Product labels for CLOVA's `sed` output, each the maximum over a few AudioSet classes
 * (YAMNet indices). A short, fixed list: AudioSet's 521 classes are too fine-grained and too
 * unreliable one by one, and "Speech" is what the transcript already covers, so it is no event.
 */

export interface LabelDef {
  /** Wire label (`type` and `label` in the result). */
  label: string;
  /** AudioSet class indices (rows of yamnet_class_map.csv) whose maximum is the label's score. */
  classes: readonly number[];
}

/**
 * Order is the wire `labelIndex`: append new labels at the end, never reorder.
 * For noise, beep, siren and music the classes were checked on sox-made sounds, alone and under
 * speech, and on speech alone (see thresholds.ts); the other labels take AudioSet's own classes
 * for the sound and are unchecked, for want of recordings.
 */
export const LABELS: readonly LabelDef[] = [
  // Laughter, Baby laughter, Giggle, Snicker, Belly laugh, Chuckle/chortle
  { label: 'laughter', classes: [13, 14, 15, 16, 17, 18] },
  // Applause, Clapping, Cheering
  { label: 'applause', classes: [62, 58, 61] },
  // Music, Musical instrument: the parents, which fire with any genre or instrument below them.
  { label: 'music', classes: [132, 133] },
  // Crying/sobbing, Baby cry/infant cry
  { label: 'crying', classes: [19, 20] },
  // Cough, Throat clearing
  { label: 'coughing', classes: [42, 43] },
  { label: 'sneeze', classes: [44] },
  // Dog, Bark, Yip, Howl, Bow-wow
  { label: 'dog_bark', classes: [69, 70, 71, 72, 73] },
  // Siren, Civil defense siren, Police car, Ambulance, Fire engine, Emergency vehicle
  { label: 'siren', classes: [390, 391, 317, 318, 319, 316] },
  // Doorbell, Ding-dong
  { label: 'doorbell', classes: [349, 350] },
  // Noise, Environmental noise, Static, Mains hum, White noise, Pink noise, Hum,
  // Mechanical fan, Air conditioning, Wind noise (microphone); and Water, Waterfall, Stream:
  // under speech, YAMNet hears broadband hiss as running water about as often as as noise (on
  // the tuning mixes their median peak was 0.32/0.25 against 0.25 for "Noise"), while on speech
  // they stay at 0.022 or lower. A running tap is noise to a transcript as well.
  { label: 'noise', classes: [507, 508, 509, 510, 514, 515, 490, 406, 407, 279, 282, 287, 286] },
  // Beep/bleep, Sine wave, Chirp tone, Dial tone, Busy signal, Telephone dialing (DTMF), Buzzer,
  // Alarm clock, Smoke detector, Fire alarm, Telephone bell ringing, Ringtone. Not the parents
  // "Alarm" and "Telephone": they fire on sirens and on plain tones alike, and would double up.
  { label: 'beep', classes: [475, 495, 497, 387, 388, 386, 392, 389, 393, 394, 384, 385] },
];

/** Per-label scores of one patch: the maximum of each label's classes. */
export function labelScores(classScores: Float32Array, out = new Float32Array(LABELS.length)): Float32Array {
  for (let l = 0; l < LABELS.length; l++) {
    let m = 0;
    for (const c of LABELS[l].classes) if (classScores[c] > m) m = classScores[c];
    out[l] = m;
  }
  return out;
}
