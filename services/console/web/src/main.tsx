import { render } from 'preact';
import { App } from './app';
import './style.css';

const root = document.getElementById('app')!;
// The "loading" line of index.html goes: render() adds to what the element holds.
root.replaceChildren();
render(<App />, root);
