import { LabIcon } from '@jupyterlab/ui-components';

const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="16" height="16" viewBox="0 0 24 24">
  <path class="jp-icon3" fill="#616161" d="M4 3h16a2 2 0 0 1 2 2v11a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V5a2 2 0 0 1 2-2zm2 4v7h2V7H6zm0-3v2h2V4H6zm4 3v7h4.5a2.5 2.5 0 0 0 1.3-4.6A2.3 2.3 0 0 0 14 7h-4zm2 1.8h2a.7.7 0 0 1 0 1.4h-2V8.8zm0 3h2.4a.8.8 0 0 1 0 1.6H12v-1.6z"/>
</svg>`;

export const ibertIcon = new LabIcon({ name: 'ibert-jupyter:ibert', svgstr: svg });
