// How far an evaluation has got: items done of items to do (films, images, slides), for
// the command line's progress bar.
export type Progress = (done: number, total: number) => void;
