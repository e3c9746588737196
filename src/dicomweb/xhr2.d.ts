// xhr2 ships no types; dicomweb-client only needs the constructor.
declare module 'xhr2' {
  const XMLHttpRequest: unknown;
  export default XMLHttpRequest;
}
